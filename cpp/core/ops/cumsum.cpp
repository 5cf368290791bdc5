// CumSum schema: running sums along the axis given by a constant one-element input (negative counts
// from the end); `exclusive` starts each sum at 0, `reverse` runs from the end. float32, int32, int64.
#include "core/ops/tensor_checks.h"

namespace metalnn {

void infer_cumsum(InferContext& ctx) {
  ctx.check_inputs(2, 2);
  require_dtype(ctx, 0, kNumericDtypes);
  const Shape& x = ctx.input_shape(0);
  if (x.empty()) ctx.fail_shape("input '" + ctx.input(0).name + "' is a scalar, expected at least 1 dim");
  const std::vector<int64_t> axis = require_int_constant(ctx, 1, "axis");
  if (axis.size() != 1) ctx.fail_shape("axis has " + std::to_string(axis.size()) + " values, expected one");
  ctx.normalize_axis(axis[0], static_cast<int>(x.size()));
  ctx.set_output(0, ctx.input_dtype(0), x);
}

}  // namespace metalnn
