// Softmax / LogSoftmax schema, opset-13 semantics (one axis, default -1). `_coerce_2d = 1`, set by the
// importer for opset < 13, selects the old semantics: flatten to 2-D at `axis` (default 1).
#include "core/ops/nn_checks.h"

namespace metalnn {

void infer_softmax(InferContext& ctx) {
  ctx.check_inputs(1, 1);
  require_float32_inputs(ctx);
  const Shape& x = ctx.input_shape(0);
  const int rank = static_cast<int>(x.size());
  const bool coerce_2d = ctx.attrs().get_int("_coerce_2d", 0) != 0;
  if (rank == 0) ctx.fail_shape("input '" + ctx.input(0).name + "' is a scalar, expected at least 1 dim");
  ctx.normalize_axis(ctx.attrs().get_int("axis", coerce_2d ? 1 : -1), rank);
  ctx.set_output(0, DType::Float32, x);
}

}  // namespace metalnn
