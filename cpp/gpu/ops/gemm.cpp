// Gemm and MatMul (metal/gemm.metal): operands addressed through strides, so transposes and
// broadcast batches need no copies. Few output rows take the SIMD-group GEMV kernel; large aligned
// shapes take the simdgroup-matrix kernel (see use_simdgroup_matrix).
#include "gpu/ops/common.h"

namespace metalnn::gpu {

namespace {
constexpr uint32_t kGemvMaxRows = 4;

// matmul_simdgroup: 4 SIMD-groups of 32 lanes (simdgroup 8x8 matrices are spread over 32 lanes), M,
// N, K multiples of 8, at least 32 rows, and at most DeviceLimits::simdgroup_matrix_max_macs
// multiply-adds per dispatch where the device sets a cap (metal-sim, which runs every
// simdgroup-matrix operation once per lane, 32x the work).
bool use_simdgroup_matrix(const Lowering& L, const MatmulParams& p) {
  const uint64_t macs = uint64_t(p.batch_count) * p.m * p.n * p.k;
  const uint64_t cap = L.limits().simdgroup_matrix_max_macs;
  return L.limits().simd_width == 32 && p.m >= 32 && p.m % 8 == 0 && p.n % 8 == 0 && p.k % 8 == 0 &&
         (cap == 0 || macs <= cap);
}
}  // namespace

void lower_matmul_params(Lowering& L, const Node& n, int a, int b, int bias, int out, MatmulParams p) {
  const std::string dtype = L.suffix(out);
  // Without a bias, A is bound in its place (never read).
  const int bias_value = bias >= 0 ? bias : a;
  if (p.m <= kGemvMaxRows) {
    L.dispatch(kernel_name("matmul", "gemv", dtype))
        .input(0, a).input(1, b).input(2, bias_value).output(3, out).params(4, p)
        .simdgroups_1d(uint64_t(p.batch_count) * p.m * p.n);
    return;
  }
  const Size3 groups{(p.n + 31) / 32, (p.m + 31) / 32, p.batch_count};
  if (use_simdgroup_matrix(L, p)) {
    L.dispatch(kernel_name("matmul", "simdgroup", dtype))
        .input(0, a).input(1, b).input(2, bias_value).output(3, out).params(4, p).grid(groups, Size3{4 * 32, 1, 1});
    return;
  }
  L.dispatch(kernel_name("matmul", "tiled", dtype))
      .input(0, a).input(1, b).input(2, bias_value).output(3, out).params(4, p).grid(groups, Size3{16, 16, 1});
}

void lower_gemm(Lowering& L, const Node& n) {
  const int a = n.inputs[0], b = n.inputs[1], y = n.outputs[0];
  const int c = Lowering::has_input(n, 2) ? n.inputs[2] : -1;
  const bool trans_a = n.attrs.get_int("transA", 0) != 0, trans_b = n.attrs.get_int("transB", 0) != 0;
  const Shape& as = L.shape(a);
  const Shape& bs = L.shape(b);
  MatmulParams p{};
  p.m = u32(n, trans_a ? as[1] : as[0]);
  p.k = u32(n, trans_a ? as[0] : as[1]);
  p.n = u32(n, trans_b ? bs[0] : bs[1]);
  p.batch_count = 1, p.batch_rank = 0;
  p.a_m = trans_a ? 1 : p.k, p.a_k = trans_a ? p.m : 1;
  p.b_k = trans_b ? 1 : p.n, p.b_n = trans_b ? p.k : 1;
  p.alpha = n.attrs.get_float("alpha", 1.0f);
  p.beta = n.attrs.get_float("beta", 1.0f);
  if (c >= 0) {
    // C broadcasts to [M, N] from (), (N), (1|M, 1|N).
    Shape cs = L.shape(c);
    while (cs.size() < 2) cs.insert(cs.begin(), 1);
    p.bias_m = cs[0] == 1 ? 0 : u32(n, cs[1]);
    p.bias_n = cs[1] == 1 ? 0 : 1;
  }
  p.epilogue = epilogue_of(n, c >= 0 && p.beta != 0.0f);
  lower_matmul_params(L, n, a, b, c, y, p);
}

void lower_matmul(Lowering& L, const Node& n) {
  const int a = n.inputs[0], b = n.inputs[1], y = n.outputs[0];
  const int bias = Lowering::has_input(n, 2) ? n.inputs[2] : -1;
  Shape as = L.shape(a), bs = L.shape(b);
  // 1-D operands: A as one row, B as one column.
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  MatmulParams p{};
  p.m = u32(n, as[as.size() - 2]);
  p.k = u32(n, as.back());
  p.n = u32(n, bs.back());
  p.a_m = p.k, p.a_k = 1, p.b_k = p.n, p.b_n = 1;
  const Shape a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  const size_t rank = std::max(a_batch.size(), b_batch.size());
  if (rank > 4) unsupported(n, "MatMul with more than 4 batch dims");
  Shape batch(rank, 1);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t da = d + a_batch.size() >= rank ? a_batch[d + a_batch.size() - rank] : 1;
    const int64_t db = d + b_batch.size() >= rank ? b_batch[d + b_batch.size() - rank] : 1;
    batch[d] = da == 1 ? db : da;  // not max(): a dim of 0 broadcast against 1 stays 0
  }
  const std::vector<int64_t> sa = broadcast_strides(a_batch, batch), sb = broadcast_strides(b_batch, batch);
  p.batch_rank = uint32_t(rank);
  p.batch_count = u32(n, shape_numel(batch));
  for (size_t d = 0; d < rank; ++d) {
    p.batch_shape[d] = u32(n, batch[d]);
    p.a_batch_strides[d] = u32(n, sa[d] * p.m * p.k);
    p.b_batch_strides[d] = u32(n, sb[d] * p.k * p.n);
  }
  p.alpha = 1.0f, p.beta = 1.0f;
  p.bias_m = 0, p.bias_n = 1;
  p.epilogue = epilogue_of(n, bias >= 0);
  lower_matmul_params(L, n, a, b, bias, y, p);
}

}  // namespace metalnn::gpu
