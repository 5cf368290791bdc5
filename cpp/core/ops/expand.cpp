// Expand schema: broadcasts the input against the constant shape input (both ways, NumPy rules, so a
// 1 in `shape` keeps the input's dim).
#include "core/ops/broadcast.h"
#include "core/ops/tensor_checks.h"

namespace metalnn {

void infer_expand(InferContext& ctx) {
  ctx.check_inputs(2, 2);
  const std::vector<int64_t> shape = require_int_constant(ctx, 1, "shape");
  Shape out;
  if (!try_broadcast_shapes(ctx.input_shape(0), shape, &out))
    ctx.fail_shape("cannot expand " + shape_str(ctx.input_shape(0)) + " ('" + ctx.input(0).name + "') to " +
                   shape_str(shape));
  ctx.set_output(0, ctx.input_dtype(0), out);
}

}  // namespace metalnn
