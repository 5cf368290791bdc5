// ArgMax / ArgMin schema: int64 indices of the extreme values along `axis` (default 0), kept as a
// size-1 dim when keepdims (default 1); select_last_index picks the last of equal extremes.
#include "core/ops/tensor_checks.h"

namespace metalnn {

void infer_arg_reduce(InferContext& ctx) {
  ctx.check_inputs(1, 1);
  require_dtype(ctx, 0, kNumericDtypes);
  Shape shape = ctx.input_shape(0);
  const int axis = ctx.normalize_axis(ctx.attrs().get_int("axis", 0), static_cast<int>(shape.size()));
  if (shape[axis] == 0) ctx.fail_shape("axis " + std::to_string(axis) + " of " + shape_str(shape) + " is empty");
  if (ctx.attrs().get_int("keepdims", 1) != 0) shape[axis] = 1;
  else shape.erase(shape.begin() + axis);
  ctx.set_output(0, DType::Int64, shape);
}

}  // namespace metalnn
