#include "cpu/direct_gemm.h"

#include <algorithm>

#include "cpu/activation.h"
#include "cpu/cpu_features.h"
#include "cpu/packed_gemm.h"
#include "cpu/simd_avx2.h"

namespace metalnn::cpu {

namespace {

// Where the AVX2 kernel beats BLAS (measured on AVX2): few inputs and many outputs (expansions,
// bound by the output write); or a large image reduced to a few dozen channels (projections, where
// BLAS's packing of the image is the cost).
constexpr int64_t kExpansionMaxInputs = 32, kExpansionMinOutputs = 64;
constexpr int64_t kProjectionMinPixels = 28 * 28, kProjectionMaxInputs = 192, kProjectionOutputs[2] = {24, 32};
// With AVX-512: outputs up to which the 8-row tiles beat the packed GEMM's 14-row ones (measured: 16
// outputs over 55x55 and 112x112 maps 10-15% faster, and several times at batch 8 with 32 inputs; 24-32
// equal, more slower), on maps too big for the transposed GEMM. Up to twice as many outputs when the
// input is too big for L2, so that the GEMM's packing misses the cache too (measured: 128 and 256 -> 32
// over 27x27 maps of 8 images 15-25% faster, one image 8% slower).
constexpr int64_t kNarrowOutputs512 = 16, kNarrowMinPixels512 = 256, kUncachedInputFloats = int64_t{1} << 20;
// im2col tiles of small convolutions (network stems, 3x3 layers with few input channels).
constexpr int64_t kIm2colMaxDepth = 160, kIm2colMinOutputs = 32;
// Pixels per task: enough to amortise the wake-up, few enough to balance the threads.
constexpr int64_t kBlockPixels = 512;

#ifdef METALNN_HAS_AVX2_KERNELS
constexpr int64_t kTileChannels = 6, kTilePixels = 16;

// Stores one finished row of a tile: clamp, then all 16 pixels or the masked first `cols`.
METALNN_AVX2_INLINE void store_row(float* out, __m256 v0, __m256 v1, __m256 lo, __m256 hi, bool full, __m256i mask0,
                                   __m256i mask1) {
  v0 = _mm256_min_ps(hi, _mm256_max_ps(lo, v0));
  v1 = _mm256_min_ps(hi, _mm256_max_ps(lo, v1));
  if (full) {
    _mm256_storeu_ps(out, v0);
    _mm256_storeu_ps(out + 8, v1);
  } else {
    _mm256_maskstore_ps(out, mask0, v0);
    _mm256_maskstore_ps(out + 8, mask1, v1);
  }
}

// One tile: outputs [o0, o0 + rows) x [p, p + cols) of one image, rows <= 6, cols <= 16. Rows past
// `rows` repeat the last weight row and are not stored. Accumulators are named so they stay in
// registers.
METALNN_AVX2 void tile(const float* x, int64_t ldx, const float* w, const float* bias, float* y, int64_t ldy,
                       int64_t k, int64_t o0, int64_t rows, int64_t p, int64_t cols, __m256 lo, __m256 hi) {
  const __m256i mask0 = first_lanes(std::min<int64_t>(cols, 8)), mask1 = first_lanes(cols - 8);
  const bool full = cols == kTilePixels;
  auto row_of = [&](int64_t r) { return o0 + std::min(r, rows - 1); };
  const float *w0 = w + row_of(0) * k, *w1 = w + row_of(1) * k, *w2 = w + row_of(2) * k;
  const float *w3 = w + row_of(3) * k, *w4 = w + row_of(4) * k, *w5 = w + row_of(5) * k;
  auto bias_of = [&](int64_t r) { return _mm256_set1_ps(bias ? bias[row_of(r)] : 0.f); };
  __m256 c00 = bias_of(0), c01 = c00, c10 = bias_of(1), c11 = c10, c20 = bias_of(2), c21 = c20;
  __m256 c30 = bias_of(3), c31 = c30, c40 = bias_of(4), c41 = c40, c50 = bias_of(5), c51 = c50;
  const float* xc = x + p;
  for (int64_t c = 0; c < k; ++c, xc += ldx) {
    const __m256 b0 = full ? _mm256_loadu_ps(xc) : _mm256_maskload_ps(xc, mask0);
    const __m256 b1 = full ? _mm256_loadu_ps(xc + 8) : _mm256_maskload_ps(xc + 8, mask1);
    __m256 a = _mm256_broadcast_ss(w0 + c);
    c00 = _mm256_fmadd_ps(a, b0, c00), c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(w1 + c);
    c10 = _mm256_fmadd_ps(a, b0, c10), c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(w2 + c);
    c20 = _mm256_fmadd_ps(a, b0, c20), c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(w3 + c);
    c30 = _mm256_fmadd_ps(a, b0, c30), c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(w4 + c);
    c40 = _mm256_fmadd_ps(a, b0, c40), c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(w5 + c);
    c50 = _mm256_fmadd_ps(a, b0, c50), c51 = _mm256_fmadd_ps(a, b1, c51);
  }
  float* out = y + o0 * ldy + p;
  store_row(out, c00, c01, lo, hi, full, mask0, mask1);
  if (rows > 1) store_row(out + ldy, c10, c11, lo, hi, full, mask0, mask1);
  if (rows > 2) store_row(out + 2 * ldy, c20, c21, lo, hi, full, mask0, mask1);
  if (rows > 3) store_row(out + 3 * ldy, c30, c31, lo, hi, full, mask0, mask1);
  if (rows > 4) store_row(out + 4 * ldy, c40, c41, lo, hi, full, mask0, mask1);
  if (rows > 5) store_row(out + 5 * ldy, c50, c51, lo, hi, full, mask0, mask1);
}

#define METALNN_DIRECT_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma")))
constexpr int64_t kTileChannels512 = 8;

// The AVX-512 tile: outputs [o0, o0 + rows) x [p, p + cols), rows <= 8, cols <= 16 V; as tile().
template <int V>
METALNN_DIRECT_AVX512 void tile_avx512(const float* x, int64_t ldx, const float* w, const float* bias, float* y,
                                       int64_t ldy, int64_t k, int64_t o0, int64_t rows, int64_t p, int64_t cols,
                                       float lo, float hi) {
  const float* wr[kTileChannels512];
  __m512 acc[kTileChannels512][V];
#pragma GCC unroll 8
  for (int r = 0; r < kTileChannels512; ++r) {
    const int64_t o = o0 + std::min<int64_t>(r, rows - 1);
    wr[r] = w + o * k;
    const __m512 b = _mm512_set1_ps(bias ? bias[o] : 0.f);
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[r][v] = b;
  }
  const int64_t tail = cols - 16 * (V - 1);  // columns of the last vector, 1..16
  const __mmask16 mask = static_cast<__mmask16>((1u << tail) - 1u);
  const float* xc = x + p;
  for (int64_t c = 0; c < k; ++c, xc += ldx) {
    // The rows of x are a map apart, too many streams for the hardware prefetcher: the first row
    // tile fetches the next 32 columns' lines while the later ones reuse these from L1.
    if (o0 == 0) {
      _mm_prefetch(reinterpret_cast<const char*>(xc + 64), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(xc + 80), _MM_HINT_T0);
    }
    __m512 b[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) b[v] = v < V - 1 ? _mm512_loadu_ps(xc + 16 * v) : _mm512_maskz_loadu_ps(mask, xc + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < kTileChannels512; ++r) {
      const __m512 a = _mm512_set1_ps(wr[r][c]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);
    }
  }
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  float* out = y + o0 * ldy + p;
#pragma GCC unroll 8
  for (int r = 0; r < kTileChannels512; ++r) {
    if (r >= rows) break;
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      const __m512 c = _mm512_min_ps(vhi, _mm512_max_ps(vlo, acc[r][v]));
      if (v < V - 1) _mm512_storeu_ps(out + r * ldy + 16 * v, c);
      else _mm512_mask_storeu_ps(out + r * ldy + 16 * v, mask, c);
    }
  }
}

// All m rows, 32 columns at a time so those columns' rows of x stay in L1 across the row tiles.
METALNN_DIRECT_AVX512 void tiles_avx512(const float* x, int64_t ldx, const float* w, const float* bias, float* y,
                                        int64_t ldy, int64_t k, int64_t m, int64_t n, float lo, float hi) {
  for (int64_t p = 0; p < n; p += 32) {
    const int64_t cols = std::min<int64_t>(32, n - p);
    for (int64_t o = 0; o < m; o += kTileChannels512) {
      const int64_t rows = std::min(kTileChannels512, m - o);
      if (cols > 16) tile_avx512<2>(x, ldx, w, bias, y, ldy, k, o, rows, p, cols, lo, hi);
      else tile_avx512<1>(x, ldx, w, bias, y, ldy, k, o, rows, p, cols, lo, hi);
    }
  }
}

// All m rows, 16 columns at a time so those columns' rows of x stay in L1 across the row tiles.
METALNN_AVX2 void tiles(const float* x, int64_t ldx, const float* w, const float* bias, float* y, int64_t ldy,
                        int64_t k, int64_t m, int64_t n, float lo, float hi) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  for (int64_t p = 0; p < n; p += kTilePixels)
    for (int64_t o = 0; o < m; o += kTileChannels)
      tile(x, ldx, w, bias, y, ldy, k, o, std::min(kTileChannels, m - o), p, std::min(kTilePixels, n - p), vlo, vhi);
}
#endif

}  // namespace

bool direct_gemm_suits_pointwise(int64_t in_channels, int64_t out_channels, int64_t pixels, int64_t images) {
  if (!has_avx2_fma()) return false;
  // With AVX-512 the packed GEMM wins except where its 14-row tiles idle most of a second tile.
  if (gemm_isa() == GemmIsa::Avx512)
    return pixels >= kNarrowMinPixels512 &&
           (out_channels <= kNarrowOutputs512 ||
            (out_channels <= 2 * kNarrowOutputs512 && images * in_channels * pixels >= kUncachedInputFloats));
  const bool expansion = in_channels <= kExpansionMaxInputs && out_channels >= kExpansionMinOutputs;
  const bool projection = pixels >= kProjectionMinPixels && in_channels <= kProjectionMaxInputs &&
                          out_channels >= kProjectionOutputs[0] && out_channels <= kProjectionOutputs[1];
  return expansion || projection;
}

bool direct_gemm_suits_im2col(int64_t k, int64_t out_channels) {
  return has_avx2_fma() && k <= kIm2colMaxDepth && out_channels >= kIm2colMinOutputs;
}

void direct_gemm(const float* x, int64_t ldx, const float* w, const float* bias, float* y, int64_t ldy, int64_t k,
                 int64_t m, int64_t n, const Activation& act) {
#ifdef METALNN_HAS_AVX2_KERNELS
  float lo, hi;
  const bool clamp = activation_as_clamp(act, lo, hi);
  if (gemm_isa() == GemmIsa::Avx512) tiles_avx512(x, ldx, w, bias, y, ldy, k, m, n, lo, hi);
  else tiles(x, ldx, w, bias, y, ldy, k, m, n, lo, hi);
  if (!clamp)
    for (int64_t o = 0; o < m; ++o) apply_activation(y + o * ldy, n, act);
#else
  (void)x, (void)ldx, (void)w, (void)bias, (void)y, (void)ldy, (void)k, (void)m, (void)n, (void)act;
#endif
}

void pointwise_conv_direct(const float* x, const float* w, const float* bias, float* y, int64_t batch,
                           int64_t in_channels, int64_t out_channels, int64_t pixels, const Activation& act,
                           ThreadPool& pool, int64_t y_image) {
  const int64_t blocks = (pixels + kBlockPixels - 1) / kBlockPixels;
  if (y_image == 0) y_image = out_channels * pixels;
  pool.parallel_for(batch * blocks, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / blocks, p0 = t % blocks * kBlockPixels, p1 = std::min(pixels, p0 + kBlockPixels);
      direct_gemm(x + b * in_channels * pixels + p0, pixels, w, bias, y + b * y_image + p0, pixels,
                  in_channels, out_channels, p1 - p0, act);
    }
  });
}

}  // namespace metalnn::cpu
