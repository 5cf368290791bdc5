// Trilu schema: keeps the upper (upper=1, default) or lower triangle of the last two dims, shifted by
// the optional constant one-element k (diagonal offset), and zeroes the rest. Any stored dtype.
#include "core/ops/tensor_checks.h"

namespace metalnn {

void infer_trilu(InferContext& ctx) {
  ctx.check_inputs(1, 2);
  const Shape& x = ctx.input_shape(0);
  if (x.size() < 2)
    ctx.fail_shape("input '" + ctx.input(0).name + "' has " + std::to_string(x.size()) + " dims, expected at least 2");
  if (ctx.has_input(1)) {
    const std::vector<int64_t> k = require_int_constant(ctx, 1, "k");
    if (k.size() != 1) ctx.fail_shape("k has " + std::to_string(k.size()) + " values, expected one");
  }
  const int64_t upper = ctx.attrs().get_int("upper", 1);
  if (upper != 0 && upper != 1) ctx.fail_model("upper " + std::to_string(upper) + " is not 0 or 1");
  ctx.set_output(0, ctx.input_dtype(0), x);
}

}  // namespace metalnn
