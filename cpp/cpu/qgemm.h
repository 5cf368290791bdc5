// The int8 GEMM of the quantized kernels: int32 sums of s8 weights (rows) times u8 activation
// columns. Activations arrive as u8 (int8 ones shifted by 128 by the packers), so every ISA path
// multiplies u8 x s8 exactly:
//  - AVX512-VNNI / AVX-VNNI: vpdpbusd sums four u8 x s8 products straight into int32 (on zmm, one
//    instruction covers a panel's 16 columns);
//  - AVX2: vpmaddubsw would saturate its int16 pair sums (255 * 127 * 2 > 32767), so the bytes are
//    split into even and odd halves widened to int16 and multiplied with vpmaddwd (exact in int32);
//  - AMX (tdpbusd on 16 x 64-byte tiles): the tile unit multiplies u8 rows by s8 columns, so there the
//    weights become the u8 side (w + 128) and the panels the s8 side ((x + shift) ^ 0x80, see
//    panel_mask); per-column sums of the panels undo the two offsets exactly;
//  - elsewhere (aarch64 included), plain C++.
// The caller's epilogue subtracts (activation zero point + shift) * row_sums() to get
// sum_k (x - x_zero) * w.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "cpu/thread_pool.h"

namespace metalnn::cpu {

// METALNN_INT8_KERNELS=avx512vnni, =avxvnni, =avx2 or =portable caps the path (tests run each on one machine).
// Columns per panel: the packers write activations as panels of kPanelCols columns, each holding
// for every group of 4 k's the 4 bytes of column 0, then of column 1, ... ([k_groups][16][4]).
constexpr int64_t kPanelCols = 16;
// Rows per tile of the GEMM.
constexpr int64_t kTileRows = 4;

// Byte offset of (column `col`, reduction index `k`) in a block of panels with `k_groups` groups.
inline int64_t panel_offset(int64_t col, int64_t k, int64_t k_groups) {
  return (col / kPanelCols) * k_groups * kPanelCols * 4 + (k / 4) * kPanelCols * 4 + (col % kPanelCols) * 4 + k % 4;
}

class QGemmWeights {
 public:
  // Packs w(r, k) = w[r * row_stride + k * k_stride] for r < rows, k < k.
  QGemmWeights(const int8_t* w, int64_t rows, int64_t k, int64_t row_stride, int64_t k_stride);
  int64_t rows() const { return rows_; }
  int64_t k() const { return k_; }
  int64_t k_groups() const { return (k_ + 3) / 4; }
  const std::vector<int32_t>& row_sums() const { return row_sums_; }
  const int32_t* block(int64_t row_block) const { return packed_.data() + row_block * block_ints_; }
  // AMX: the tile of rows [16 * row_tile, + 16) and k [64 * k_tile, + 64) as 16 rows of 64 bytes, w + 128
  // (0 past k and past the rows, which then add nothing whatever the panels hold there).
  int64_t k_tiles() const { return (k_ + 63) / 64; }
  const uint8_t* amx_tile(int64_t row_tile, int64_t k_tile) const {
    return amx_.data() + (row_tile * k_tiles() + k_tile) * 1024;
  }

 private:
  int64_t rows_, k_, block_ints_;
  std::vector<int32_t> packed_;
  std::vector<uint8_t> amx_;
  std::vector<int32_t> row_sums_;
};

// Writes the panels of columns [col0, col0 + cols): every byte of those columns for k < k(); qgemm
// zeroes the rest (columns past `cols`, k past k()) beforehand.
using PanelPacker = std::function<void(int64_t col0, int64_t cols, uint8_t* panels)>;
// Receives the raw sums of rows [r0, r0 + nr) x columns [c0, c0 + nc): sums[i * kPanelCols + j], in a
// 16 x 16 tile (nr <= 16).
using TileEpilogue = std::function<void(int64_t r0, int64_t nr, int64_t c0, int64_t nc, const int32_t* sums)>;

// Sums over all rows of `w` and `cols` columns, on the pool (or the calling thread when serial).
void qgemm(ThreadPool& pool, const QGemmWeights& w, int64_t cols, const PanelPacker& pack, const TileEpilogue& epilogue,
           bool serial = false);

// The xor mask the packers apply to activation bytes whose u8 shift is `shift_mask`: the same, or with
// the sign bit flipped for AMX's s8 side.
uint8_t panel_mask(uint8_t shift_mask);

// out[j * kPanelCols + i] = sums[i * kPanelCols + j] for a 16 x 16 tile of sums (an epilogue writing
// row-major [columns][rows] output reads the transposed tile contiguously).
void transpose_sums(const int32_t* sums, int32_t* out);

// Whether the int8 kernels use SIMD (AVX2 or better, unless METALNN_INT8_KERNELS=portable).
bool int8_simd();
// Whether they use AVX-512 (AVX512-VNNI or AMX).
bool int8_avx512();

// Runs task(t) for t in [0, tasks), each claimed by whichever pool thread comes free (the calling thread
// alone when serial): on a loaded machine a thread that lost its core holds up only the task it is in.
void claim_tasks(ThreadPool& pool, int64_t tasks, bool serial, const std::function<void(int64_t)>& task);

// Bytes of panels for `cols` columns of reduction length k.
inline int64_t panel_bytes(int64_t cols, int64_t k) {
  return (cols + kPanelCols - 1) / kPanelCols * ((k + 3) / 4) * kPanelCols * 4;
}

// One output channel's requantisation: byte = rint(clamp((sum - correction) * multiplier + bias,
// lo, hi)) + y_zero, rint rounding half to even; int8 outputs keep their two's complement byte.
struct Requant {
  int32_t correction;
  float multiplier, bias, lo, hi;
  int32_t y_zero;
};

// dst[i] = requantised sums[i] for i < n.
void requantize_span(const Requant& q, const int32_t* sums, int64_t n, uint8_t* dst);

// Rows [0, nr) of a 16 x 16 tile of sums, n <= 16 columns from sums' column 0, requantised with q[i]
// into dst + i * dst_stride.
void requantize_tile(const Requant* q, int64_t nr, const int32_t* sums, int64_t n, uint8_t* dst, int64_t dst_stride);

// The same rows requantised into columns: dst[j * dst_stride + i] for rows i < nr and columns j < n of a
// 16 x 16 tile of sums (a MatMul's [columns][rows] output, channels contiguous).
void requantize_tile_transposed(const Requant* q, int64_t nr, const int32_t* sums, int64_t n, uint8_t* dst,
                                int64_t dst_stride);

// Writes panel columns [first, first + cols) from `rows` (4 * k_groups row pointers, nullptr past k):
// column first + j of reduction row t is rows[t][j] ^ mask (a 1x1 convolution's input as it lies).
void pack_rows(const uint8_t* const* rows, int64_t k_groups, int64_t first, int64_t cols, uint8_t mask,
               uint8_t* panels);

// Writes panel columns [0, cols) from rows [row0, row0 + cols) of the row-major [*, k] matrix `a`
// (a MatMul's input: column j is row row0 + j of a, xor mask).
void pack_columns(const uint8_t* a, int64_t k, int64_t row0, int64_t cols, uint8_t mask, uint8_t* panels);

// Rounds v (already clamped into the output range) to nearest, half to even, as the FPU does.
inline int32_t round_half_even(float v) {
  const float magic = 12582912.f;  // 1.5 * 2^23: adding it leaves v rounded in the low mantissa bits
  return int32_t((v + magic) - magic);
}

inline uint8_t requantize_one(const Requant& q, int32_t sum) {
  const float v = float(sum - q.correction) * q.multiplier + q.bias;
  return uint8_t(round_half_even(std::min(std::max(v, q.lo), q.hi)) + q.y_zero);
}

}  // namespace metalnn::cpu
