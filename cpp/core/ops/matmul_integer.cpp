// MatMulInteger schema: int8/uint8 A [..., M, K] times B [K, N] (the 2-D weights quantizers write)
// into int32, after subtracting A's per-tensor zero point and B's per-tensor or per-column one.
#include "core/ops/tensor_checks.h"

namespace metalnn {

void infer_matmul_integer(InferContext& ctx) {
  ctx.check_inputs(2, 4);
  require_dtype(ctx, 0, {DType::Int8, DType::UInt8});
  require_dtype(ctx, 1, {DType::Int8, DType::UInt8});
  const Shape& a = ctx.input_shape(0);
  const Shape& b = ctx.input_shape(1);
  if (a.size() < 2) ctx.fail_unsupported("A " + shape_str(a) + " has fewer than 2 dims");
  if (b.size() != 2) ctx.fail_unsupported("B " + shape_str(b) + " is not 2-D");
  if (a.back() != b[0])
    ctx.fail_shape("A " + shape_str(a) + " and B " + shape_str(b) + " disagree on K: " + std::to_string(a.back()) +
                   " vs " + std::to_string(b[0]));
  if (ctx.has_input(2)) {
    require_same_dtype(ctx, 2, 0);
    if (shape_numel(ctx.input_shape(2)) != 1 || ctx.input_rank(2) > 1)
      ctx.fail_unsupported("a_zero_point '" + ctx.input(2).name + "' " + shape_str(ctx.input_shape(2)) +
                           " is not per-tensor");
  }
  if (ctx.has_input(3)) {
    require_same_dtype(ctx, 3, 1);
    const Shape& zb = ctx.input_shape(3);
    const bool per_tensor = shape_numel(zb) == 1 && zb.size() <= 1;
    if (!per_tensor && zb != Shape{b[1]})
      ctx.fail_shape("b_zero_point '" + ctx.input(3).name + "' " + shape_str(zb) + " is neither per-tensor nor [" +
                     std::to_string(b[1]) + "]");
  }
  Shape out = a;
  out.back() = b[1];
  ctx.set_output(0, DType::Int32, out);
}

}  // namespace metalnn
