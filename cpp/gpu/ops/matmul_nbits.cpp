// MatMulNBits (metal/matmul_nbits.metal): A's leading dims flattened into M rows; B, its scales and
// zero points stay as stored (4-bit codes). Absent optional inputs bind another buffer, never read.
#include "core/ops/matmul_nbits.h"
#include "gpu/ops/common.h"

namespace metalnn::gpu {

namespace {
constexpr uint32_t kGemvMaxRows = 4;
}  // namespace

void lower_matmul_nbits(Lowering& L, const Node& n) {
  const NBitsGeometry geo = nbits_geometry(L.graph(), n);
  const int a = n.inputs[0], b = n.inputs[1], y = n.outputs[0];
  MatMulNBitsParams p{};
  p.n = u32(n, geo.n);
  p.k = u32(n, geo.k);
  p.m = u32(n, shape_numel(L.shape(a)) / geo.k);
  if (p.m == 0) return;
  p.block_size = u32(n, geo.block_size);
  p.k_blocks = u32(n, geo.k_blocks);
  p.zp_mode = geo.zero_points == NBitsZeroPoints::kPacked ? 1 : geo.zero_points == NBitsZeroPoints::kFloat ? 2 : 0;
  p.zp_row_bytes = u32(n, geo.zp_row_bytes);
  p.has_bias = geo.has_bias ? 1 : 0;
  const bool gemv = p.m <= kGemvMaxRows;
  Dispatch& d = L.dispatch(kernel_name("matmul_nbits", gemv ? "gemv" : "tiled", L.suffix(y)));
  d.input(0, a).input(1, b).input(2, n.inputs[2]);
  d.input(3, p.zp_mode == 1 ? n.inputs[3] : b).input(4, p.zp_mode == 2 ? n.inputs[3] : a);
  d.input(5, geo.has_bias ? n.inputs[5] : a).output(6, y).params(7, p);
  if (gemv) d.simdgroups_1d(uint64_t(p.m) * p.n);
  else d.grid(Size3{(p.n + 31) / 32, (p.m + 31) / 32, 1}, Size3{16, 16, 1});
}

}  // namespace metalnn::gpu
