// Gemm and MatMul schemas. Gemm: Y = alpha * op(A) * op(B) + beta * C with C broadcast to [M, N].
// MatMul: NumPy matmul (batched, broadcast batch dims, 1-D operands), plus an optional internal
// third input: a bias of shape [N] added along the last dim (from the MatMul+Add fusion).
#include <algorithm>

#include "core/ops/nn_checks.h"

namespace metalnn {

void infer_gemm(InferContext& ctx) {
  ctx.check_inputs(2, 3);
  require_float32_inputs(ctx);
  ctx.check_rank(0, 2, "A");
  ctx.check_rank(1, 2, "B");
  const bool trans_a = ctx.attrs().get_int("transA", 0) != 0;
  const bool trans_b = ctx.attrs().get_int("transB", 0) != 0;
  const Shape& a = ctx.input_shape(0);
  const Shape& b = ctx.input_shape(1);
  const int64_t m = trans_a ? a[1] : a[0], k = trans_a ? a[0] : a[1];
  const int64_t kb = trans_b ? b[1] : b[0], n = trans_b ? b[0] : b[1];
  if (k != kb)
    ctx.fail_shape("A " + shape_str(a) + (trans_a ? " (transposed)" : "") + " and B " + shape_str(b) +
                   (trans_b ? " (transposed)" : "") + " disagree on K: " + std::to_string(k) + " vs " +
                   std::to_string(kb));
  if (ctx.has_input(2)) {
    const Shape& c = ctx.input_shape(2);
    const Shape target = {m, n};
    bool ok = c.size() <= 2;
    for (size_t i = 0; ok && i < c.size(); ++i) {
      int64_t t = target[2 - c.size() + i];
      ok = c[i] == 1 || c[i] == t;
    }
    if (!ok) ctx.fail_shape("C " + shape_str(c) + " does not broadcast to [" + std::to_string(m) + ", " + std::to_string(n) + "]");
  }
  ctx.set_output(0, DType::Float32, {m, n});
}

void infer_matmul(InferContext& ctx) {
  ctx.check_inputs(2, 3);
  require_float32_inputs(ctx);
  Shape a = ctx.input_shape(0), b = ctx.input_shape(1);
  if (a.empty() || b.empty()) ctx.fail_shape("operands must have at least 1 dim, got " + shape_str(a) + " and " + shape_str(b));
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), 1);
  if (b_vec) b.push_back(1);
  const int64_t m = a[a.size() - 2], k = a.back(), kb = b[b.size() - 2], n = b.back();
  if (k != kb)
    ctx.fail_shape("A " + shape_str(ctx.input_shape(0)) + " and B " + shape_str(ctx.input_shape(1)) +
                   " disagree on K: " + std::to_string(k) + " vs " + std::to_string(kb));

  const size_t batch_rank = std::max(a.size(), b.size()) - 2;
  // Batch dim i of a right-aligned operand, 1 where it has fewer batch dims.
  auto batch_dim = [&](const Shape& s, size_t i) {
    size_t missing = batch_rank - (s.size() - 2);
    return i < missing ? int64_t{1} : s[i - missing];
  };
  Shape out(batch_rank);
  for (size_t i = 0; i < batch_rank; ++i) {
    int64_t da = batch_dim(a, i), db = batch_dim(b, i);
    if (da != db && da != 1 && db != 1)
      ctx.fail_shape("batch dims of A " + shape_str(ctx.input_shape(0)) + " and B " + shape_str(ctx.input_shape(1)) +
                     " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  if (!a_vec) out.push_back(m);
  if (!b_vec) out.push_back(n);

  if (ctx.has_input(2)) {
    const Shape& bias = ctx.input_shape(2);
    if (b_vec) ctx.fail_model("a bias input needs a matrix B, got B " + shape_str(ctx.input_shape(1)));
    if (bias.size() != 1 || bias[0] != n)
      ctx.fail_shape("bias has shape " + shape_str(bias) + ", expected [" + std::to_string(n) + "]");
  }
  ctx.set_output(0, DType::Float32, out);
}

}  // namespace metalnn
