#include "cpu/packed_gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "cpu/activation.h"
#include "cpu/activation_avx512.h"
#include "cpu/cache_sizes.h"
#include "cpu/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define METALNN_GEMM_KERNELS 1
#define METALNN_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define METALNN_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma")))
#else
#define METALNN_TARGET_AVX2
#endif

namespace metalnn::cpu {

namespace {

// K rows per block: each block reads and writes C once more, which on deep reductions (K of 2048 to
// 4608 over 7x7 and 14x14 maps) costs more than a B panel (64 KB) overflowing L1 into L2 does: 512
// rather than 256 measured 10-15% faster there, and no slower on short ones. Rows of A per packed
// block: about 340 KB, in L2. Columns of B per block when B is packed per call (its block then sits in
// L2 too), and when it was packed ahead (only C's traffic bounds it then, and a wider block packs A
// less often).
constexpr int64_t kKc = 512, kMcRows = 168, kNc = 512, kNcPacked = 1536;
// Rows of A per block when B was packed ahead and is at least kWideColumns wide: each B panel then
// comes from L3 or memory rather than L2, and serving 37 row panels rather than 12 with it took 5-10%
// less CPU time on 512 x 768 x 3072 to 50257 products (within wide_block_floats()).
constexpr int64_t kMcRowsWide = 518, kWideColumns = 1536;
// B not packed ahead is read in place rather than packed per call when few row panels share it:
// up to kInPlaceRows rows of C always, and up to 64 or kInPlaceMaxRows rows while a K block of B's
// rows spans at most 2 MB or 512 KB (beyond, strided rows cost more in TLB and prefetch misses than
// packing: a 56x56 map read in place cost a batch of 8 images 30%). Measured.
constexpr int64_t kInPlaceRows = 32, kInPlaceMaxRows = 256;
// K rows per block up to which tiles run row panel by row panel (see gemm_block).
constexpr int64_t kRowMajorMaxK = 128;
// Below this many multiply-adds a second thread costs more to wake than it saves.
constexpr int64_t kMinParallelMacs = int64_t{1} << 18;
// Floats of A packed once for all threads at most (16 MB), as the buffer stays with the calling thread.
constexpr int64_t kMaxSharedPack = int64_t{4} << 20;
// Floats of the largest register tile (14 x 32).
constexpr int kMaxTileFloats = 14 * 32;

int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

// Floats of A per packed block at most where B was packed ahead (kMcRowsWide rows, or a short last
// block joined to the one before): the core's L2, beyond which A's panels come from L3 for every B
// panel. A 1.25 MB L2 still holds kMcRowsWide rows 512 deep, and 756 rows 384 deep (a thread's share
// of a 1500-row product on 2 threads, as fast per row as 518 at 1 thread); 55 panels 512 deep do not.
int64_t wide_block_floats() {
  static const int64_t floats = static_cast<int64_t>(cache_sizes().l2 / sizeof(float));
  return floats;
}

// How op(A)'s m rows fall into the fewest row panels of at most MR: MR each (the last ragged) in
// packs made ahead, or as evenly as they go in A packed per call, so that no panel is left with a row
// or two (a 2-row tile runs at a fraction of a full one's pace: 128 rows as 9 x 14 + 2 took 6-12%
// longer than 126).
struct RowPanels {
  int64_t m, count;
  int mr;
  bool even;
  RowPanels(int64_t rows, int tile_rows, bool evenly)
      : m(rows), count((rows + tile_rows - 1) / tile_rows), mr(tile_rows), even(evenly) {}
  int64_t start(int64_t p) const { return even ? p * m / count : std::min(p * mr, m); }
};

// K rows per block for this K: blocks of equal size, at most kKc (packs and the GEMM must agree).
int64_t k_block(int64_t k, int64_t kc_max = kKc) {
  const int64_t blocks = std::max<int64_t>(1, (k + kc_max - 1) / kc_max);
  return (k + blocks - 1) / blocks;
}

// c[rows x cols] (leading dimension ldc) = alpha * a_panel * b_panel + beta * c over kc steps; the A
// panel holds MR rows per step, padded with zeros, the B panel NR columns per step, ldb floats
// apart (NR when packed, B's own rows otherwise); beta 0 never reads c. From b_next, if not null, one
// cache line per K step is prefetched into L2 (the next B panel, which may come from memory: B packed
// ahead; AVX-512's is two lines a step, so the block's first two tiles take a half each), and the A
// panel after this one (the next in a packed block) into L1: weights packed ahead and evicted
// between images come from L3 at the pace the kernel reads them otherwise. On the last K
// block, bias (one value per row, if not null) and col_bias (one per column, if not null) are added and
// the result clamped to bounds[0..1] (if not null), so the output is stored once, finished.
using MicroKernel = void (*)(int64_t kc, const float* a, const float* b, int64_t ldb, const float* b_next, float* c,
                             int64_t ldc, int cols, float alpha, float beta, const float* bias, const float* col_bias,
                             const float* bounds);

// The last few columns of a tile (fewer than a vector's lanes) with the rows in the vector instead: one
// panel row of A per K step times each column's value of B, so a 1-column tail costs one multiply-add
// per K step rather than one per row. Arguments as MicroKernel's; `rows` rows are stored.
using ColumnKernel = void (*)(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                              int rows, float alpha, float beta, const float* bias, const float* col_bias,
                              const float* bounds);

struct Tile {
  int mr = 1, nr = 1, lanes = 1;
  MicroKernel (*kernel)(int rows, int vectors) = nullptr;
  ColumnKernel (*columns)(int count) = nullptr;  // tails of 1..kMaxTailColumns columns; null: none
};

// Tail columns up to which the column kernel beats a mostly empty vector per row.
constexpr int kMaxTailColumns = 4;

#ifdef METALNN_GEMM_KERNELS
constexpr int kMr512 = 14, kNr512 = 32, kMr256 = 6, kNr256 = 16;

template <int R, int V>
METALNN_TARGET_AVX512 void kernel_avx512(int64_t kc, const float* a, const float* b, int64_t ldb, const float* b_next,
                                         float* c, int64_t ldc, int cols, float alpha, float beta, const float* bias,
                                         const float* col_bias, const float* bounds) {
  __m512 acc[R][V];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; ++p, a += kMr512, b += ldb) {
    if (b_next) _mm_prefetch(reinterpret_cast<const char*>(b_next + p * 16), _MM_HINT_T1);
    _mm_prefetch(reinterpret_cast<const char*>(a + kMr512 * kc), _MM_HINT_T0);
    __m512 bv[V];
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) bv[v] = _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(a[r]);
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const __m512 lo = _mm512_set1_ps(bounds ? bounds[0] : 0.f), hi = _mm512_set1_ps(bounds ? bounds[1] : 0.f);
  __mmask16 mask[V];
#pragma GCC unroll 2
  for (int v = 0; v < V; ++v) {
    const int left = cols - 16 * v;
    mask[v] = left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
  }
  __m512 cb[V];
#pragma GCC unroll 2
  for (int v = 0; v < V; ++v) cb[v] = col_bias ? _mm512_maskz_loadu_ps(mask[v], col_bias + 16 * v) : _mm512_setzero_ps();
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) {
      float* cp = c + r * ldc + 16 * v;
      __m512 x = _mm512_mul_ps(acc[r][v], va);
      if (beta != 0.f) x = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask[v], cp), vb, x);
      if (bias) x = _mm512_add_ps(x, _mm512_set1_ps(bias[r]));
      if (col_bias) x = _mm512_add_ps(x, cb[v]);
      if (bounds) {  // the masked forms: GCC 12 warns of the plain ones' undefined pass-through operand
        x = _mm512_mask_max_ps(x, __mmask16(0xffff), x, lo);
        x = _mm512_mask_min_ps(x, __mmask16(0xffff), x, hi);
      }
      _mm512_mask_storeu_ps(cp, mask[v], x);
    }
}

template <int C>
METALNN_TARGET_AVX512 void columns_avx512(int64_t kc, const float* a, const float* b, int64_t ldb, float* c,
                                          int64_t ldc, int rows, float alpha, float beta, const float* bias,
                                          const float* col_bias, const float* bounds) {
  constexpr int U = 4;  // K steps in flight, each with its own sums: one chain would wait on each FMA
  const __mmask16 panel = __mmask16((1u << kMr512) - 1);
  __m512 acc[U][C];
  for (int u = 0; u < U; ++u)
    for (int j = 0; j < C; ++j) acc[u][j] = _mm512_setzero_ps();
  int64_t p = 0;
  for (; p + U <= kc; p += U)
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) {
      const __m512 av = _mm512_maskz_loadu_ps(panel, a + (p + u) * kMr512);
      for (int j = 0; j < C; ++j)
        acc[u][j] = _mm512_fmadd_ps(av, _mm512_set1_ps(b[(p + u) * ldb + j]), acc[u][j]);
    }
  for (; p < kc; ++p) {
    const __m512 av = _mm512_maskz_loadu_ps(panel, a + p * kMr512);
    for (int j = 0; j < C; ++j) acc[0][j] = _mm512_fmadd_ps(av, _mm512_set1_ps(b[p * ldb + j]), acc[0][j]);
  }
  for (int j = 0; j < C; ++j) {
    alignas(64) float sum[16];
    _mm512_store_ps(sum, _mm512_add_ps(_mm512_add_ps(acc[0][j], acc[1][j]), _mm512_add_ps(acc[2][j], acc[3][j])));
    for (int r = 0; r < rows; ++r) {
      float* cp = c + r * ldc + j;
      float x = sum[r] * alpha;
      if (beta != 0.f) x += beta * *cp;
      if (bias) x += bias[r];
      if (col_bias) x += col_bias[j];
      if (bounds) {  // as max_ps / min_ps do: NaN takes the bound
        x = x > bounds[0] ? x : bounds[0];
        x = x < bounds[1] ? x : bounds[1];
      }
      *cp = x;
    }
  }
}

ColumnKernel avx512_columns(int count) {
  static const ColumnKernel table[kMaxTailColumns] = {&columns_avx512<1>, &columns_avx512<2>, &columns_avx512<3>,
                                                      &columns_avx512<4>};
  return table[count - 1];
}

// The AVX-512 kernel's twin (one target attribute per function, so intrinsics of each width need
// their own body).
template <int R, int V>
METALNN_TARGET_AVX2 void kernel_avx2(int64_t kc, const float* a, const float* b, int64_t ldb, const float* b_next,
                                     float* c, int64_t ldc, int cols, float alpha, float beta, const float* bias,
                                     const float* col_bias, const float* bounds) {
  __m256 acc[R][V];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) acc[r][v] = _mm256_setzero_ps();
  for (int64_t p = 0; p < kc; ++p, a += kMr256, b += ldb) {
    if (b_next) _mm_prefetch(reinterpret_cast<const char*>(b_next + p * kNr256), _MM_HINT_T1);
    _mm_prefetch(reinterpret_cast<const char*>(a + kMr256 * kc), _MM_HINT_T0);
    __m256 bv[V];
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) bv[v] = _mm256_loadu_ps(b + 8 * v);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r);
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  const __m256 lo = _mm256_set1_ps(bounds ? bounds[0] : 0.f), hi = _mm256_set1_ps(bounds ? bounds[1] : 0.f);
  __m256i mask[V];
#pragma GCC unroll 2
  for (int v = 0; v < V; ++v)
    mask[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols - 8 * v), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  __m256 cb[V];
#pragma GCC unroll 2
  for (int v = 0; v < V; ++v) cb[v] = col_bias ? _mm256_maskload_ps(col_bias + 8 * v, mask[v]) : _mm256_setzero_ps();
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) {
      float* cp = c + r * ldc + 8 * v;
      const bool whole = cols - 8 * v >= 8;
      __m256 x = _mm256_mul_ps(acc[r][v], va);
      if (beta != 0.f) x = _mm256_fmadd_ps(whole ? _mm256_loadu_ps(cp) : _mm256_maskload_ps(cp, mask[v]), vb, x);
      if (bias) x = _mm256_add_ps(x, _mm256_set1_ps(bias[r]));
      if (col_bias) x = _mm256_add_ps(x, cb[v]);
      if (bounds) x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
      if (whole) {
        _mm256_storeu_ps(cp, x);
      } else {
        _mm256_maskstore_ps(cp, mask[v], x);
      }
    }
}

#define METALNN_KERNEL_ROW(kernel, R) {&kernel<R, 1>, &kernel<R, 2>}
MicroKernel avx512_kernel(int rows, int vectors) {
  static const MicroKernel table[kMr512][2] = {
      METALNN_KERNEL_ROW(kernel_avx512, 1),  METALNN_KERNEL_ROW(kernel_avx512, 2),
      METALNN_KERNEL_ROW(kernel_avx512, 3),  METALNN_KERNEL_ROW(kernel_avx512, 4),
      METALNN_KERNEL_ROW(kernel_avx512, 5),  METALNN_KERNEL_ROW(kernel_avx512, 6),
      METALNN_KERNEL_ROW(kernel_avx512, 7),  METALNN_KERNEL_ROW(kernel_avx512, 8),
      METALNN_KERNEL_ROW(kernel_avx512, 9),  METALNN_KERNEL_ROW(kernel_avx512, 10),
      METALNN_KERNEL_ROW(kernel_avx512, 11), METALNN_KERNEL_ROW(kernel_avx512, 12),
      METALNN_KERNEL_ROW(kernel_avx512, 13), METALNN_KERNEL_ROW(kernel_avx512, 14)};
  return table[rows - 1][vectors - 1];
}
MicroKernel avx2_kernel(int rows, int vectors) {
  static const MicroKernel table[kMr256][2] = {
      METALNN_KERNEL_ROW(kernel_avx2, 1), METALNN_KERNEL_ROW(kernel_avx2, 2), METALNN_KERNEL_ROW(kernel_avx2, 3),
      METALNN_KERNEL_ROW(kernel_avx2, 4), METALNN_KERNEL_ROW(kernel_avx2, 5), METALNN_KERNEL_ROW(kernel_avx2, 6)};
  return table[rows - 1][vectors - 1];
}
#undef METALNN_KERNEL_ROW
#endif

Tile tile_of(GemmIsa isa) {
#ifdef METALNN_GEMM_KERNELS
  if (isa == GemmIsa::Avx512) return {kMr512, kNr512, 16, &avx512_kernel, &avx512_columns};
  if (isa == GemmIsa::Avx2) return {kMr256, kNr256, 8, &avx2_kernel, nullptr};
#endif
  (void)isa;
  return {};
}

GemmIsa best_isa() {
  static const GemmIsa isa = has_avx512() ? GemmIsa::Avx512 : has_avx2_fma() ? GemmIsa::Avx2 : GemmIsa::Blas;
  return isa;
}

// Read at each call (kernels are built rarely), so one process can load a model both ways.
GemmIsa environment_isa() {
  const char* env = std::getenv("METALNN_GEMM_ISA");
  const std::string want = env ? env : "";
  const GemmIsa asked = want == "blas"     ? GemmIsa::Blas
                        : want == "avx2"   ? GemmIsa::Avx2
                        : want == "avx512" ? GemmIsa::Avx512
                                           : best_isa();
  return gemm_isa_supported(asked) ? asked : best_isa();
}

std::atomic<int> forced_isa{-1};

#ifdef METALNN_GEMM_KERNELS
// r[i] becomes column i of the 16 x 16 block whose rows were r[0..15].
METALNN_TARGET_AVX512 inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int h = 0; h < 16; h += 8)
    for (int i = 0; i < 4; ++i) {
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
      t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
    }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
}

// One 14-row panel of a row-major A: `width` rows (the rest zero), K steps [0, kc) of it, 16 at a
// time through a register transpose (the plain interleave stores one float at a time, 14 apart,
// which at small M costs a sizeable share of the GEMM). Returns the K steps done; the rest are left.
METALNN_TARGET_AVX512 int64_t pack_panel14_avx512(const float* src, int64_t ld, int width, int64_t kc, float* dst) {
  int64_t q = 0;
  for (; q + 16 <= kc; q += 16) {
    __m512 r[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) r[i] = i < width ? _mm512_loadu_ps(src + i * ld + q) : _mm512_setzero_ps();
    transpose16(r);
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) _mm512_mask_storeu_ps(dst + (q + i) * kMr512, __mmask16(0x3fff), r[i]);
  }
  return q;
}

// pack_panel14_avx512's twin for the 6-row AVX2 panels, 8 K steps at a time (its own body, as each
// width's intrinsics need their own target attribute).
METALNN_TARGET_AVX2 int64_t pack_panel6_avx2(const float* src, int64_t ld, int width, int64_t kc, float* dst) {
  const __m256i six = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);
  int64_t q = 0;
  for (; q + 8 <= kc; q += 8) {
    __m256 r[8], t[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) r[i] = i < width ? _mm256_loadu_ps(src + i * ld + q) : _mm256_setzero_ps();
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
      r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
      r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
      r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
      r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; ++i) {  // r[i]: columns i and i + 4 of rows 0-3; r[i + 4]: of rows 4-7
      t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
      t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) _mm256_maskstore_ps(dst + (q + i) * kMr256, six, t[i]);
  }
  return q;
}
#endif

// Row panels [p0, p1) of op(A) (m x k), K rows [k0, k0 + kc), each padded with zeros to MR rows.
METALNN_TARGET_AVX2 void pack_left_block(const float* src, int64_t ld, bool trans, const RowPanels& panels, int64_t p0,
                                         int64_t p1, int64_t k0, int64_t kc, float* dst) {
  const int mr = panels.mr;
  for (int64_t p = p0; p < p1; ++p, dst += mr * kc) {
    const int64_t i0 = panels.start(p);
    const int width = static_cast<int>(panels.start(p + 1) - i0);
    if (trans) {  // each K row holds the panel's MR values side by side: read them in order
      for (int64_t q = 0; q < kc; ++q) {
        const float* src_row = src + (k0 + q) * ld + i0;
        float* d = dst + q * mr;
        std::copy(src_row, src_row + width, d);
        std::fill(d + width, d + mr, 0.f);
      }
      continue;
    }
    int64_t q0 = 0;
#ifdef METALNN_GEMM_KERNELS
    if (mr == kMr512) {  // only packed for AVX-512 kernels, so the CPU has it
      q0 = pack_panel14_avx512(src + i0 * ld + k0, ld, width, kc, dst);
    } else if (mr == kMr256) {
      q0 = pack_panel6_avx2(src + i0 * ld + k0, ld, width, kc, dst);
    }
#endif
    for (int r = 0; r < mr; ++r) {
      if (r >= width) {
        for (int64_t q = q0; q < kc; ++q) dst[q * mr + r] = 0.f;
      } else {
        const float* row = src + (i0 + r) * ld + k0;
        for (int64_t q = q0; q < kc; ++q) dst[q * mr + r] = row[q];
      }
    }
  }
}

// Columns [j0, j0 + cols) of op(B) (k x n), K rows [k0, k0 + kc), as NR-column panels; columns past n
// are zero. Only called where a kernel runs, so AVX2 is there.
METALNN_TARGET_AVX2 void pack_right_block(const float* src, int64_t ld, bool trans, int64_t n, int64_t j0,
                                          int64_t cols, int64_t k0, int64_t kc, int nr, float* dst) {
  if (trans) {
    for (int64_t p = 0; p < cols; p += nr, dst += nr * kc) {
      const int64_t width = std::min<int64_t>({nr, cols - p, n - j0 - p});
      for (int c = 0; c < nr; ++c) {
        const float* col = src + (j0 + p + c) * ld + k0;
        for (int64_t q = 0; q < kc; ++q) dst[q * nr + c] = c < width ? col[q] : 0.f;
      }
    }
    return;
  }
  // Row by row, so B is read sequentially; each row lands in every panel.
  [[maybe_unused]] const int64_t full = std::max<int64_t>(0, std::min(cols, n - j0)) / nr * nr;
  for (int64_t q = 0; q < kc; ++q) {
    const float* row = src + (k0 + q) * ld + j0;
    float* d = dst + q * nr;
    int64_t p = 0;
#ifdef METALNN_GEMM_KERNELS
    for (; p < full; p += nr)
      for (int c = 0; c < nr; c += 16) {
        _mm256_storeu_ps(d + p * kc + c, _mm256_loadu_ps(row + p + c));
        _mm256_storeu_ps(d + p * kc + c + 8, _mm256_loadu_ps(row + p + c + 8));
      }
#endif
    for (; p < cols; p += nr) {
      const int64_t width = std::max<int64_t>(0, std::min<int64_t>({nr, cols - p, n - j0 - p}));
      std::copy(row + p, row + p + width, d + p * kc);
      std::fill(d + p * kc + width, d + p * kc + nr, 0.f);
    }
  }
}

// Calls f(image, column, offset, length) for each run of columns [j0, j0 + count) of `im` that lies in
// one image; offset counts from j0.
template <class F>
void for_each_image_run(const ImageColumns& im, int64_t j0, int64_t count, F&& f) {
  for (int64_t c = 0; c < count;) {
    const int64_t g = im.first + j0 + c, image = g / im.per_image, col = g - image * im.per_image;
    const int64_t len = std::min(count - c, im.per_image - col);
    f(image, col, c, len);
    c += len;
  }
}

// pack_right_block (not transposed) for a B whose columns run over images.
void pack_right_images(const float* src, int64_t ld, const ImageColumns& im, int64_t n, int64_t j0, int64_t cols,
                       int64_t k0, int64_t kc, int nr, float* dst) {
  for (int64_t p = 0; p < cols; p += nr, dst += nr * kc) {
    const int64_t width = std::max<int64_t>(0, std::min<int64_t>({nr, cols - p, n - j0 - p}));
    for_each_image_run(im, j0 + p, width, [&](int64_t image, int64_t col, int64_t offset, int64_t len) {
      const float* s = src + image * im.b_image + k0 * ld + col;
      for (int64_t q = 0; q < kc; ++q)
        std::memcpy(dst + q * nr + offset, s + q * ld, static_cast<size_t>(len) * sizeof(float));
    });
    if (width < nr)
      for (int64_t q = 0; q < kc; ++q) std::fill(dst + q * nr + width, dst + q * nr + nr, 0.f);
  }
}

// The fused non-clamp activation over a finished tile (rows x cols, rows ldc apart): on 16 lanes where
// the tile is AVX-512's (Swish over 8 lanes cost a 7x7 expansion a quarter of its time).
void activate_tile(const Tile& t, float* c, int64_t ldc, int rows, int cols, const Activation& act) {
  int r = 0;
#if defined(METALNN_GEMM_KERNELS) && defined(METALNN_HAS_AVX2_KERNELS)
  if (t.mr == kMr512)
    while (r < rows && activate_avx512(c + r * ldc, cols, act)) ++r;
#endif
  (void)t;
  for (; r < rows; ++r) apply_activation(c + r * ldc, cols, act);
}

#if defined(METALNN_GEMM_KERNELS) && defined(METALNN_HAS_AVX2_KERNELS)
METALNN_TARGET_AVX512 void residual_tile_avx512(float* c, const float* res, int64_t ldc, int rows, int cols,
                                                const float* bounds) {
  const __m512 lo = _mm512_set1_ps(bounds ? bounds[0] : 0.f), hi = _mm512_set1_ps(bounds ? bounds[1] : 0.f);
  for (int r = 0; r < rows; ++r, c += ldc, res += ldc)
    for (int j = 0; j < cols; j += 16) {
      const __mmask16 m = cols - j >= 16 ? __mmask16(0xffff) : __mmask16((1u << (cols - j)) - 1);
      __m512 x = _mm512_add_ps(_mm512_maskz_loadu_ps(m, c + j), _mm512_maskz_loadu_ps(m, res + j));
      if (bounds) {
        x = _mm512_mask_max_ps(x, __mmask16(0xffff), x, lo);
        x = _mm512_mask_min_ps(x, __mmask16(0xffff), x, hi);
      }
      _mm512_mask_storeu_ps(c + j, m, x);
    }
}
#endif

// What a finished tile (rows x cols at ct, rows ldc apart; C starts at c) takes after the kernel's
// store: the residual and the clamp after it (bounds, or none), then the non-clamp activation.
void finish_tile(const Tile& t, float* ct, int64_t ldc, int rows, int cols, const GemmRowEpilogue& fused,
                 const float* c, const float* bounds) {
  if (fused.residual) {
    const float* res = fused.residual + (ct - c);
#if defined(METALNN_GEMM_KERNELS) && defined(METALNN_HAS_AVX2_KERNELS)
    if (t.mr == kMr512) {
      residual_tile_avx512(ct, res, ldc, rows, cols, bounds);
    } else
#endif
    {
      for (int r = 0; r < rows; ++r)
        for (int j = 0; j < cols; ++j) {
          float& y = ct[r * ldc + j];
          y += res[r * ldc + j];
          if (bounds) y = std::min(std::max(y, bounds[0]), bounds[1]);
        }
    }
  }
  if (!fused.act.none()) activate_tile(t, ct, ldc, rows, cols, fused.act);
}

// Row panels [p0, p1) (see RowPanels) and columns [c0, c1) of C on the calling thread; c0 is a
// multiple of NR when B is packed.
void gemm_block(const Tile& t, int64_t p0, int64_t p1, int64_t c0, int64_t c1, int64_t m, int64_t n, int64_t k,
                float alpha, const GemmOperand& a, const GemmOperand& b, float beta, float* c, int64_t ldc,
                const BlockEpilogue& epilogue, const GemmRowEpilogue& fused, const ImageColumns& images) {
  thread_local AlignedFloats a_buf, b_buf;
  const bool b_images = images.per_image > 0 && images.b_image != 0;
  const int64_t m_pad = round_up(m, t.mr), n_pad = round_up(n, t.nr);
  const PackedMatrix* ahead = a.packed ? a.packed : b.packed;  // its K blocks rule
  const int64_t kb = ahead && ahead->kb ? ahead->kb : k_block(k), nc_max = b.packed ? kNcPacked : kNc;
  const int64_t a_budget = wide_block_floats();
  const int64_t mc_rows =
      b.packed && n >= kWideColumns ? std::max(kMcRows, std::min(kMcRowsWide, a_budget / kb)) : kMcRows;
  const int64_t mc_panels = mc_rows / t.mr;
  const RowPanels panels(m, t.mr, !a.packed || a.packed->even_rows);
  const int64_t r0 = panels.start(p0), r1 = panels.start(p1);
  // Few row panels share each B panel: packing it would cost about as much as using it, so whole
  // panels are read in place (only a ragged last one is copied, as reading it whole could run past B).
  const int64_t span = kb * b.ld * int64_t{sizeof(float)}, rows = r1 - r0;
  const float bounds[2] = {fused.lo, fused.hi};
  const bool clamp =
      fused.lo > -std::numeric_limits<float>::infinity() || fused.hi < std::numeric_limits<float>::infinity();
  const bool tile_pass = fused.residual || !fused.act.none();
  const bool b_in_place = !b.packed && !b.trans && !b_images &&
                          (rows <= kInPlaceRows || (rows <= 64 && span <= int64_t{2} << 20) ||
                           (rows <= kInPlaceMaxRows && span <= int64_t{512} << 10));
  // Tiles row panel by row panel, each across the whole block of columns, where K is short and the
  // rows long (a 56x56 map): C is then written as 14 sequential streams rather than 168 interleaved
  // ones, which on such layers costs more than reloading B's panels from L2 (measured).
  const bool row_major_tiles = !b.packed && !b_in_place && kb <= kRowMajorMaxK && c1 - c0 >= kNc;
  for (int64_t j0 = c0; j0 < c1; j0 += nc_max) {
    const int64_t nc = std::min(nc_max, c1 - j0), whole = b_in_place ? nc / t.nr * t.nr : 0;
    for (int64_t k0 = 0; k0 < k; k0 += kb) {
      const int64_t kc = std::min(kb, k - k0);
      const float beta_k = k0 == 0 ? beta : 1.f;
      const bool last = k0 + kc >= k;
      // With a residual, the clamp waits for it (finish_tile).
      const float* bounds_k = last && clamp && !fused.residual ? bounds : nullptr;
      const float* tile_bounds = clamp ? bounds : nullptr;
      const float* bp;
      if (b.packed) {
        bp = b.packed->data.data() + k0 * n_pad + j0 * kc;
      } else {
        b_buf.resize(static_cast<size_t>(round_up(nc - whole, t.nr) * kc));
        if (b_images) {
          pack_right_images(b.data, b.ld, images, n, j0, nc, k0, kc, t.nr, b_buf.data());
        } else if (whole < nc) {
          pack_right_block(b.data, b.ld, b.trans, n, j0 + whole, nc - whole, k0, kc, t.nr, b_buf.data());
        }
        bp = b_buf.data();  // the panels from column `whole` on
      }
      for (int64_t b0 = p0, b1; b0 < p1; b0 = b1) {
        // A short last block joins this one where B was packed ahead: each block streams all of B's
        // block past it from L3 or memory, which a block of 3 row panels (197 rows as 12 + 3) cannot hide.
        // Unless the joined block would not fit L2: then the rest is split in two.
        const int64_t rest = p1 - b0;
        if (!b.packed || rest >= mc_panels + mc_panels / 2) b1 = std::min(b0 + mc_panels, p1);
        else if (rest * t.mr * kc <= a_budget) b1 = p1;
        else b1 = b0 + (rest + 1) / 2;
        const float* ap;
        if (a.packed) {
          ap = a.packed->data.data() + k0 * m_pad + b0 * t.mr * kc;
        } else {
          a_buf.resize(static_cast<size_t>((b1 - b0) * t.mr * kc));
          pack_left_block(a.data, a.ld, a.trans, panels, b0, b1, k0, kc, a_buf.data());
          ap = a_buf.data();
        }
        auto tile = [&](int64_t ip, int64_t jr) {
          const int64_t i = panels.start(ip);
          const float* a_panel = ap + (ip - b0) * t.mr * kc;
          const int cols = static_cast<int>(std::min<int64_t>(t.nr, nc - jr));
          const int vectors = (cols + t.lanes - 1) / t.lanes;
          const bool in_place = jr < whole;
          const float* b_panel = in_place ? b.data + k0 * b.ld + j0 + jr : bp + (jr - whole) * kc;
          const int64_t ldb = in_place ? b.ld : t.nr;
          const int rows = static_cast<int>(panels.start(ip + 1) - i);
          // One cache line of the next panel per K step, its first half by the first tile, the second by the next.
          const float* b_next = b.packed && jr + t.nr < nc && ip - b0 < t.nr / 16
                                    ? bp + (jr + t.nr) * kc + (ip - b0) * 16 * kc : nullptr;
          const float* bias = last && fused.row_bias ? fused.row_bias + i : nullptr;
          const float* col_bias = last && fused.col_bias ? fused.col_bias + j0 + jr : nullptr;
          const MicroKernel kernel = t.kernel(rows, vectors);
          const int tail = cols % t.lanes;
          if (!images.per_image && t.columns && tail <= kMaxTailColumns && tail > 0) {
            float* ct = c + i * ldc + j0 + jr;
            const int body = cols - tail;
            if (body > 0)
              t.kernel(rows, body / t.lanes)(kc, a_panel, b_panel, ldb, b_next, ct, ldc, body, alpha, beta_k, bias,
                                             col_bias, bounds_k);
            t.columns(tail)(kc, a_panel, b_panel + body, ldb, ct + body, ldc, rows, alpha, beta_k, bias,
                            col_bias ? col_bias + body : nullptr, bounds_k);
            if (last && tile_pass) finish_tile(t, ct, ldc, rows, cols, fused, c, tile_bounds);
            return;
          }
          if (!images.per_image) {
            float* ct = c + i * ldc + j0 + jr;
            kernel(kc, a_panel, b_panel, ldb, b_next, ct, ldc, cols, alpha, beta_k, bias, col_bias, bounds_k);
            if (last && tile_pass) finish_tile(t, ct, ldc, rows, cols, fused, c, tile_bounds);
            return;
          }
          const int64_t g = images.first + j0 + jr, image = g / images.per_image, col = g - image * images.per_image;
          float* c_rows = c + i * ldc;
          if (col + cols <= images.per_image) {
            kernel(kc, a_panel, b_panel, ldb, b_next, c_rows + image * images.c_image + col, ldc, cols, alpha,
                   beta_k, bias, nullptr, bounds_k);
            if (last && tile_pass)
              finish_tile(t, c_rows + image * images.c_image + col, ldc, rows, cols, fused, c, tile_bounds);
            return;
          }
          // The tile spans two images: through a block of its own, gathered first if C is read.
          float tmp[kMaxTileFloats];
          const int64_t nr = t.nr;
          auto each_run = [&](auto&& f) {
            for_each_image_run(images, j0 + jr, cols, [&](int64_t im, int64_t cl, int64_t offset, int64_t len) {
              for (int r = 0; r < rows; ++r) f(c_rows + r * ldc + im * images.c_image + cl, tmp + r * nr + offset, len);
            });
          };
          if (beta_k != 0.f)
            each_run([](const float* cp, float* tp, int64_t len) { std::copy(cp, cp + len, tp); });
          kernel(kc, a_panel, b_panel, ldb, b_next, tmp, nr, cols, alpha, beta_k, bias, nullptr, bounds_k);
          if (last && !fused.residual && !fused.act.none()) activate_tile(t, tmp, nr, rows, cols, fused.act);
          each_run([](float* cp, const float* tp, int64_t len) { std::copy(tp, tp + len, cp); });
          if (last && fused.residual)  // where C is, run by run
            for_each_image_run(images, j0 + jr, cols, [&](int64_t im, int64_t cl, int64_t, int64_t len) {
              finish_tile(t, c_rows + im * images.c_image + cl, ldc, rows, static_cast<int>(len), fused, c,
                          tile_bounds);
            });
        };
        if (row_major_tiles) {
          for (int64_t ip = b0; ip < b1; ++ip)
            for (int64_t jr = 0; jr < nc; jr += t.nr) tile(ip, jr);
        } else {
          for (int64_t jr = 0; jr < nc; jr += t.nr)
            for (int64_t ip = b0; ip < b1; ++ip) tile(ip, jr);
        }
      }
    }
    if (epilogue) epilogue(r0, r1, j0, j0 + nc);
  }
}

// All of op(src) (rows x cols) as the left or right operand, K block after K block.
PackedMatrix pack_whole(bool left, const float* src, int64_t ld, bool trans, int64_t rows, int64_t cols, GemmIsa isa,
                        int64_t kc_max) {
  PackedMatrix p;
  p.isa = isa;
  p.left = left;
  p.rows = rows;
  p.cols = cols;
  const Tile t = tile_of(isa);
  if (!t.kernel) return p;
  const int64_t k = left ? cols : rows, kb = k_block(k, kc_max > 0 ? kc_max : kKc);
  p.kb = kb;
  const int64_t padded = left ? round_up(rows, t.mr) : round_up(cols, t.nr);  // the side that is not K
  p.data.resize(static_cast<size_t>(padded * k));
  for (int64_t k0 = 0; k0 < k; k0 += kb) {
    float* dst = p.data.data() + k0 * padded;
    if (left) {
      const RowPanels panels(rows, t.mr, false);
      pack_left_block(src, ld, trans, panels, 0, panels.count, k0, std::min(kb, k - k0), dst);
    } else {
      pack_right_block(src, ld, trans, cols, 0, padded, k0, std::min(kb, k - k0), t.nr, dst);
    }
  }
  return p;
}

// The fused epilogue as a pass over a block, where BLAS did the GEMM.
void apply_row_epilogue(const GemmRowEpilogue& fused, float* c, int64_t ldc, int64_t r0, int64_t r1, int64_t c0,
                        int64_t c1) {
  for (int64_t i = r0; i < r1; ++i) {
    float* row = c + i * ldc;
    const float add = fused.row_bias ? fused.row_bias[i] : 0.f;
    if (fused.residual) {
      const float* res = fused.residual + i * ldc;
      for (int64_t j = c0; j < c1; ++j)
        row[j] = std::min(std::max(row[j] + add + (fused.col_bias ? fused.col_bias[j] : 0.f) + res[j], fused.lo), fused.hi);
    } else if (fused.col_bias) {
      for (int64_t j = c0; j < c1; ++j) row[j] = std::min(std::max(row[j] + add + fused.col_bias[j], fused.lo), fused.hi);
    } else {
      for (int64_t j = c0; j < c1; ++j) row[j] = std::min(std::max(row[j] + add, fused.lo), fused.hi);
    }
    if (!fused.act.none()) apply_activation(row + c0, c1 - c0, fused.act);
  }
}

ThreadPool& serial_pool() {
  static ThreadPool pool(1);
  return pool;
}

}  // namespace

bool gemm_isa_supported(GemmIsa isa) {
  switch (isa) {
    case GemmIsa::Avx512:
      return has_avx512();
    case GemmIsa::Avx2:
      return has_avx2_fma();
    default:
      return true;
  }
}

GemmIsa gemm_isa() {
  const int forced = forced_isa.load(std::memory_order_relaxed);
  return forced >= 0 ? static_cast<GemmIsa>(forced) : environment_isa();
}

void set_gemm_isa(GemmIsa isa) { forced_isa.store(static_cast<int>(isa), std::memory_order_relaxed); }

PackedMatrix pack_left(const float* src, int64_t ld, bool trans, int64_t m, int64_t k, GemmIsa isa, int64_t kc_max) {
  return pack_whole(true, src, ld, trans, m, k, isa, kc_max);
}

int64_t gemm_l1_k_block(GemmIsa isa) {
  const Tile t = tile_of(isa);
  if (!t.kernel) return 0;
  const int64_t l1_floats = static_cast<int64_t>(cache_sizes().l1d / sizeof(float));
  return std::clamp<int64_t>(l1_floats / (t.mr + t.nr), 64, kKc);
}

PackedMatrix pack_right(const float* src, int64_t ld, bool trans, int64_t k, int64_t n, GemmIsa isa, int64_t kc_max) {
  return pack_whole(false, src, ld, trans, k, n, isa, kc_max);
}

DerivedCache<const std::vector<PackedMatrix>>& packed_weights() {
  static DerivedCache<const std::vector<PackedMatrix>> cache;
  return cache;
}

void gemm(ThreadPool* pool, int64_t m, int64_t n, int64_t k, float alpha, const GemmOperand& a, const GemmOperand& b,
          float beta, float* c, int64_t ldc, const BlockEpilogue& epilogue, const GemmRowEpilogue& fused,
          const ImageColumns& images) {
  if (m <= 0 || n <= 0) return;
  const PackedMatrix* packed = a.packed ? a.packed : b.packed;
  const Tile t = tile_of(packed ? packed->isa : GemmIsa::Blas);
  // A single column of C would fill one lane of each vector: BLAS's matrix-vector product is faster.
  const bool matrix_vector = n == 1 && a.data && b.data && !images.per_image;
  if (images.per_image && (!t.kernel || k == 0))
    throw std::invalid_argument("gemm over image columns needs the packed kernels and k > 0");
  if (images.per_image && fused.col_bias)
    throw std::invalid_argument("gemm over image columns takes no column bias");
  if (!t.kernel || k == 0 || matrix_vector) {
    const bool fuse = fused.row_bias || fused.col_bias || fused.residual || !fused.act.none() ||
                      fused.lo > -std::numeric_limits<float>::infinity() ||
                      fused.hi < std::numeric_limits<float>::infinity();
    parallel_sgemm(pool ? *pool : serial_pool(), a.trans, b.trans, m, n, k, alpha, a.data, a.ld, b.data, b.ld, beta,
                   c, ldc, !fuse ? epilogue : BlockEpilogue([&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
                     apply_row_epilogue(fused, c, ldc, r0, r1, c0, c1);
                     if (epilogue) epilogue(r0, r1, c0, c1);
                   }));
    return;
  }
  const int64_t threads = pool && m * n * k >= kMinParallelMacs ? pool->num_threads() : 1;
  if (threads == 1) {
    gemm_block(t, 0, (m + t.mr - 1) / t.mr, 0, n, m, n, k, alpha, a, b, beta, c, ldc, epilogue, fused, images);
    return;
  }
  // Split the side whose tiles share out more evenly; on a tie, the side that leaves the packed
  // operand whole, so the other is not packed once per thread.
  const int64_t m_units = (m + t.mr - 1) / t.mr, n_units = (n + t.nr - 1) / t.nr;
  auto balance = [&](int64_t units, int64_t step, int64_t extent) {  // mean share / largest share
    const int64_t chunks = std::min(units, threads);
    return double(extent) / double(threads * std::min(extent, (units + chunks - 1) / chunks * step));
  };
  const double bm = balance(m_units, t.mr, m), bn = balance(n_units, t.nr, n);
  const bool split_cols = bn > bm + 0.05 || (bn >= bm - 0.05 && a.packed);
  const int64_t units = split_cols ? n_units : m_units;
  const int64_t chunks = std::min(units, threads);
  // Split by columns, each thread would pack all of A for itself: pack it once, shared, the threads
  // taking a share of its row panels each.
  GemmOperand a_shared = a;
  if (split_cols && chunks > 1 && !a.packed && round_up(m, t.mr) * k <= kMaxSharedPack) {
    thread_local PackedMatrix shared_storage;
    PackedMatrix& shared = shared_storage;  // the calling thread's, in the workers too
    shared.isa = packed->isa;
    shared.rows = m;
    shared.cols = k;
    shared.even_rows = true;
    const RowPanels panels(m, t.mr, true);
    const int64_t m_pad = panels.count * t.mr, kb = packed->kb ? packed->kb : k_block(k);
    shared.kb = kb;
    if (shared.data.size() < static_cast<size_t>(m_pad * k)) shared.data.resize(static_cast<size_t>(m_pad * k));
    pool->parallel_for(chunks, 1, [&](int64_t i0, int64_t i1) {
      const int64_t p0 = panels.count * i0 / chunks, p1 = panels.count * i1 / chunks;
      for (int64_t k0 = 0; k0 < k; k0 += kb) {
        const int64_t kc = std::min(kb, k - k0);
        pack_left_block(a.data, a.ld, a.trans, panels, p0, p1, k0, kc, shared.data.data() + k0 * m_pad + p0 * t.mr * kc);
      }
    });
    a_shared.packed = &shared;
  }
  pool->parallel_for(chunks, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t lo = units * i / chunks, hi = units * (i + 1) / chunks;  // in tiles
      if (lo >= hi) continue;
      if (split_cols) {
        gemm_block(t, 0, m_units, lo * t.nr, std::min(n, hi * t.nr), m, n, k, alpha, a_shared, b, beta, c, ldc,
                   epilogue, fused, images);
      } else {
        gemm_block(t, lo, hi, 0, n, m, n, k, alpha, a, b, beta, c, ldc, epilogue, fused, images);
      }
    }
  });
}

}  // namespace metalnn::cpu
