// Tile schema: output dim d is the input's dim d times repeats[d]; repeats is a constant with one
// value per input dim.
#include "core/ops/tensor_checks.h"
#include "core/sizes.h"

namespace metalnn {

void infer_tile(InferContext& ctx) {
  ctx.check_inputs(2, 2);
  const Shape& in = ctx.input_shape(0);
  const std::vector<int64_t> repeats = require_int_constant(ctx, 1, "repeats");
  if (repeats.size() != in.size())
    ctx.fail_shape("repeats has " + std::to_string(repeats.size()) + " values, expected one per dim of input " +
                   shape_str(in));
  Shape out(in.size());
  for (size_t d = 0; d < in.size(); ++d) {
    if (repeats[d] < 0) ctx.fail_model("repeats " + shape_str(repeats) + " has a negative value");
    if (!checked_mul(in[d], repeats[d], &out[d]))
      ctx.fail_shape("repeats " + shape_str(repeats) + " overflow the dims of input " + shape_str(in));
  }
  ctx.set_output(0, ctx.input_dtype(0), out);
}

}  // namespace metalnn
