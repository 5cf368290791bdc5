// Float32 GEMM with operands packed into the register tile's panel layout: constant weights are
// packed once when a kernel is built (and shared between shape specialisations through
// packed_weights()), the other operand per call in cache-sized blocks (an A with its rows spread
// evenly over the row panels, and packed once for all threads when they split the columns). Register
// tiles: 14 x 32 with AVX-512, 6 x 16 with AVX2/FMA; elsewhere (or when forced) the platform BLAS.
#pragma once
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "core/activation.h"
#include "core/derived_cache.h"
#include "cpu/aligned_vector.h"
#include "cpu/parallel_gemm.h"
#include "cpu/thread_pool.h"

namespace metalnn::cpu {

enum class GemmIsa { Blas, Avx2, Avx512 };

// The kernel packs are made for: METALNN_GEMM_ISA=blas|avx2|avx512 if set and supported, otherwise
// the best the CPU has.
GemmIsa gemm_isa();
bool gemm_isa_supported(GemmIsa isa);
// Overrides gemm_isa() (tests run every path); must be supported.
void set_gemm_isa(GemmIsa isa);

// One matrix in panel layout: as the left operand (M x K, MR rows interleaved per k) or the right
// (K x N, NR columns per k), in blocks of kc rows of K. Empty for GemmIsa::Blas.
struct PackedMatrix {
  GemmIsa isa = GemmIsa::Blas;
  bool left = true;
  int64_t rows = 0, cols = 0;  // of the logical operand: M x K (left) or K x N (right)
  // Left: rows spread over the panels as evenly as they go rather than MR per panel (A packed per call).
  bool even_rows = false;
  int64_t kb = 0;  // K rows per block
  AlignedFloats data;
};

// op(src) packed for `isa`; src is row-major with leading dimension ld, transposed when trans. K is
// cut into blocks of equal size, at most kc_max rows each (0: the GEMM's default, 512); the operand
// packed per call follows the pack's blocks.
PackedMatrix pack_left(const float* src, int64_t ld, bool trans, int64_t m, int64_t k, GemmIsa isa,
                       int64_t kc_max = 0);
PackedMatrix pack_right(const float* src, int64_t ld, bool trans, int64_t k, int64_t n, GemmIsa isa,
                        int64_t kc_max = 0);

// K rows per block at which one row panel of A and one column panel of B fit the core's L1 together,
// at most the default 512 (0 for GemmIsa::Blas): for A packed ahead against a B read in place by many
// row panels in turn (an im2col tile), whose panel is otherwise reloaded from L2 by every row panel.
int64_t gemm_l1_k_block(GemmIsa isa);

// Packs derived from constant tensors, one list per tensor and packing.
DerivedCache<const std::vector<PackedMatrix>>& packed_weights();

// An operand of gemm(): the raw matrix (op(data) with leading dimension ld) and, when it was
// packed ahead, that pack. The raw matrix is needed when there is no pack, and used when C is a
// single column (a matrix-vector product, left to BLAS).
struct GemmOperand {
  const float* data = nullptr;
  int64_t ld = 0;
  bool trans = false;
  const PackedMatrix* packed = nullptr;
};

// What the GEMM applies to each element of C as it stores it finished: c[i, j] = act(min(max(c[i, j] +
// row_bias[i] + col_bias[j], lo), hi)), the sums and the clamp in registers, act on each tile just
// stored while it is in L1 (a bias and an activation without another pass over C).
struct GemmRowEpilogue {
  const float* row_bias = nullptr;  // m values, or none
  const float* col_bias = nullptr;  // n values, or none; not with ImageColumns
  float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
  Activation act;  // after the clamp; none or one that is not a clamp
  // A matrix laid out as C (same leading dimension and image strides), added after the biases and
  // before the clamp and act: a residual connection finished tile by tile while the tile is in L1.
  const float* residual = nullptr;
};

// The columns of B and C as a run of images side by side (a convolution's GEMM over a batch): column
// j is column (first + j) % per_image of image (first + j) / per_image, whose block of B (or C) starts
// b_image (c_image) floats after the previous image's; rows keep their leading dimensions. b_image 0:
// B is one plain matrix, only C is spread. Needs a packed operand (the kernels, not BLAS).
struct ImageColumns {
  int64_t per_image = 0;  // 0: B and C are plain matrices
  int64_t first = 0;
  int64_t b_image = 0, c_image = 0;
};

// C (m x n, leading dimension ldc) = alpha * A * B + beta * C, then `fused` and the epilogue on each
// finished block. Split over the pool, or on the calling thread when pool is nullptr (inside a task).
void gemm(ThreadPool* pool, int64_t m, int64_t n, int64_t k, float alpha, const GemmOperand& a, const GemmOperand& b,
          float beta, float* c, int64_t ldc, const BlockEpilogue& epilogue, const GemmRowEpilogue& fused = {},
          const ImageColumns& images = {});

}  // namespace metalnn::cpu
