// TopK schema: the k largest (or smallest, largest=0) values along `axis` (default -1) and their int64
// indices; k is a constant one-element input, so the output shapes are static.
#include "core/ops/tensor_checks.h"

namespace metalnn {

void infer_topk(InferContext& ctx) {
  ctx.check_inputs(2, 2);
  require_dtype(ctx, 0, kNumericDtypes);
  Shape shape = ctx.input_shape(0);
  const int axis = ctx.normalize_axis(ctx.attrs().get_int("axis", -1), static_cast<int>(shape.size()));
  const std::vector<int64_t> k = require_int_constant(ctx, 1, "K");
  if (k.size() != 1) ctx.fail_shape("K has " + std::to_string(k.size()) + " values, expected one");
  if (k[0] < 0 || k[0] > shape[axis])
    ctx.fail_shape("K = " + std::to_string(k[0]) + " is outside [0, " + std::to_string(shape[axis]) + "] for axis " +
                   std::to_string(axis) + " of " + shape_str(shape));
  shape[axis] = k[0];
  ctx.set_output(0, ctx.input_dtype(0), shape);
  ctx.set_output(1, DType::Int64, shape);
}

}  // namespace metalnn
