#include "cpu/winograd_conv.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "core/derived_cache.h"
#include "cpu/activation.h"
#include "cpu/aligned_vector.h"
#include "cpu/cpu_features.h"
#include "cpu/epilogue.h"
#include "cpu/simd_avx2.h"

namespace metalnn::cpu {

namespace {

DerivedCache<const std::vector<float>>& transformed_weights() {
  static DerivedCache<const std::vector<float>> cache;
  return cache;
}

constexpr int64_t kLanes = 8;

// The bounds the output transforms clamp to, and whether they are all of act; with a residual none
// (act comes after the sum, on each finished plane or rows while they are in cache).
bool output_clamp(const Activation& act, const float* res, float& lo, float& hi) {
  if (!res) return activation_as_clamp(act, lo, hi);
  lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
  return false;
}
// GEMM width a task aims for, and the most floats its transformed buffers may hold (in L2/L3).
constexpr int64_t kTargetTiles = 128, kMaxBufferFloats = int64_t{1} << 20;
// Output width and height from which F(4x4, 3x3) is used: rows of 17 to 32 outputs take one vector of
// its tiles, as wide as F(2x2, 3x3)'s two, for 36 rather than 64 multiplies per 16 outputs. Measured on
// one thread: 17x17 to 27x27 maps (SqueezeNet's 27x27 expand3x3) 35-47% faster than with F(2x2, 3x3);
// 16x16 and below, where F(4x4, 3x3)'s vector is twice as wide, 7-80% slower.
constexpr int64_t kF4MinSize = 17;

// A thread's V (points x [in_c, tiles]) and M (points x [out_c, tiles]), each point's matrix
// point_stride() from the next, for the chunks it runs.
struct Scratch {
  AlignedFloats v, m;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

#ifdef METALNN_HAS_AVX2_KERNELS
// F(2x2, 3x3) on vectors of 8 or 16 tiles (V = B^T d B, to v + xi * v_stride; and A^T m A's 2x2 outputs,
// from m + xi * m_stride), loaded and stored as raw vectors.
template <class V>
__attribute__((always_inline)) inline void input_transform_4x4(const V d[4][4], float* v, int64_t v_stride) {
  V t[4][4];  // B^T d
  for (int j = 0; j < 4; ++j) {
    t[0][j] = d[0][j] - d[2][j];
    t[1][j] = d[1][j] + d[2][j];
    t[2][j] = d[2][j] - d[1][j];
    t[3][j] = d[1][j] - d[3][j];
  }
  for (int i = 0; i < 4; ++i) {  // (B^T d) B
    const V r[4] = {t[i][0] - t[i][2], t[i][1] + t[i][2], t[i][2] - t[i][1], t[i][1] - t[i][3]};
    for (int c = 0; c < 4; ++c) std::memcpy(v + (i * 4 + c) * v_stride, &r[c], sizeof(V));
  }
}
template <class V>
__attribute__((always_inline)) inline void output_transform_4x4(const float* m, int64_t m_stride, V y[2][2]) {
  V s[2][4];  // A^T m
  for (int j = 0; j < 4; ++j) {
    V mi[4];
    for (int i = 0; i < 4; ++i) std::memcpy(&mi[i], m + (i * 4 + j) * m_stride, sizeof(V));
    s[0][j] = mi[0] + mi[1] + mi[2];
    s[1][j] = mi[1] - mi[2] - mi[3];
  }
  for (int r = 0; r < 2; ++r) {
    y[r][0] = s[r][0] + s[r][1] + s[r][2];
    y[r][1] = s[r][1] - s[r][2] - s[r][3];
  }
}

// V = B^T d B for 8 tiles side by side: d[i][j] of tile k is row i, column 2k + j of `rows`.
// Writes the 16 results to v + xi * v_stride.
METALNN_AVX2 void input_transform_8(const float* rows, int64_t row_stride, float* v, int64_t v_stride) {
  __m256 d[4][4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) d[i][j] = load_strided<2>(rows + i * row_stride + j);
  input_transform_4x4(d, v, v_stride);
}

// Y = A^T m A for 8 tiles, plus bias and the clamp; writes the 2x2 blocks of tiles whose outputs
// lie inside [rows_left, cols_left) of `y`.
METALNN_AVX2 void output_transform_8(const float* m, int64_t m_stride, float bias, float lo, float hi, float* y,
                                     int64_t y_stride, int64_t rows_left, int64_t cols_left) {
  __m256 o[2][2];
  output_transform_4x4(m, m_stride, o);
  const __m256 b = _mm256_set1_ps(bias), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  for (int r = 0; r < 2 && r < rows_left; ++r) {
    const __m256 left = _mm256_min_ps(vhi, _mm256_max_ps(vlo, _mm256_add_ps(o[r][0], b)));
    const __m256 right = _mm256_min_ps(vhi, _mm256_max_ps(vlo, _mm256_add_ps(o[r][1], b)));
    // Interleave into output order: tile k's left and right columns are outputs 2k and 2k + 1.
    const __m256 lo4 = _mm256_unpacklo_ps(left, right), hi4 = _mm256_unpackhi_ps(left, right);
    const __m256 first = _mm256_permute2f128_ps(lo4, hi4, 0x20), second = _mm256_permute2f128_ps(lo4, hi4, 0x31);
    float* out = y + r * y_stride;
    if (cols_left >= 16) {
      _mm256_storeu_ps(out, first);
      _mm256_storeu_ps(out + 8, second);
    } else if (cols_left > 8) {
      _mm256_storeu_ps(out, first);
      _mm256_maskstore_ps(out + 8, first_lanes(cols_left - 8), second);
    } else if (cols_left > 0) {
      _mm256_maskstore_ps(out, first_lanes(cols_left), first);
    }
  }
}

// F(4x4, 3x3). One 1-D transform of six vectors (of 8 or 16 lanes), used on columns and then on rows:
// B^T with the interpolation points 0, +-1, +-2 and infinity.
template <class V>
__attribute__((always_inline)) inline void input_transform_6(const V d[6], V r[6]) {
  const V a = d[4] - 4.f * d[2], b = d[3] - 4.f * d[1];
  const V c = d[4] - d[2], e = d[3] - d[1];
  r[0] = 4.f * d[0] + (d[4] - 5.f * d[2]);
  r[1] = a + b;
  r[2] = a - b;
  r[3] = 2.f * e + c;
  r[4] = c - 2.f * e;
  r[5] = 4.f * d[1] + (d[5] - 5.f * d[3]);
}

// A^T: six transformed values to four outputs.
template <class V>
__attribute__((always_inline)) inline void output_transform_6(const V m[6], V y[4]) {
  const V a = m[1] + m[2], b = m[1] - m[2];
  const V c = m[3] + m[4], e = m[3] - m[4];
  y[0] = m[0] + a + c;
  y[1] = 2.f * e + b;
  y[2] = 4.f * c + a;
  y[3] = 8.f * e + b + m[5];
}

// The second half of the input transform, (B^T d) B, from t = B^T d: the 36 results to v + xi * v_stride.
template <class V>
__attribute__((always_inline)) inline void input_rows_6(const V t[6][6], float* v, int64_t v_stride) {
  for (int i = 0; i < 6; ++i) {
    V r[6];
    input_transform_6(t[i], r);
    for (int c = 0; c < 6; ++c) std::memcpy(v + (i * 6 + c) * v_stride, &r[c], sizeof(V));
  }
}

// The first half of the output transform: s = A^T m, m's 36 vectors at m + xi * m_stride.
template <class V>
__attribute__((always_inline)) inline void output_columns_6(const float* m, int64_t m_stride, V s[4][6]) {
  for (int j = 0; j < 6; ++j) {
    V col[6], r[4];
    for (int i = 0; i < 6; ++i) std::memcpy(&col[i], m + (i * 6 + j) * m_stride, sizeof(V));
    output_transform_6(col, r);
    for (int i = 0; i < 4; ++i) s[i][j] = r[i];
  }
}

// V = B^T d B for 8 tiles side by side, from phase-split rows: column 4k + j of row i is element
// k + j / 4 of phase j % 4, at phases + (4 i + j % 4) * phase_stride. Writes 36 results.
METALNN_AVX2_INLINE void input_transform_8_f4_body(const float* phases, int64_t phase_stride, float* v,
                                                   int64_t v_stride) {
  __m256 t[6][6];  // B^T d, t[i][j]
  for (int j = 0; j < 6; ++j) {
    __m256 d[6], r[6];
    for (int i = 0; i < 6; ++i) d[i] = _mm256_loadu_ps(phases + (4 * i + (j & 3)) * phase_stride + (j >> 2));
    input_transform_6(d, r);
    for (int i = 0; i < 6; ++i) t[i][j] = r[i];
  }
  input_rows_6(t, v, v_stride);
}

// One input row, padded by pad_left zero columns on the left and zeros after it, split into 4 phases:
// padded column 4q + p to phases[p * phase + q], in whole groups of 32 columns (phase is at least
// (pad_left + in_w) / 4 + 8). Groups inside the row read it in place; the others go through `line`,
// zero outside [pad_left, pad_left + in_w) and as long as the groups.
METALNN_AVX2 void split_phases_4(const float* src, int64_t pad_left, int64_t in_w, float* line, float* phases,
                                 int64_t phase) {
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const int64_t n = pad_left + in_w;
  for (int64_t col = 0; col < n; col += 32) {
    const float* p = line + col;
    if (col >= pad_left && col + 32 <= n) {
      p = src + (col - pad_left);
    } else {
      const int64_t lo = std::max(col, pad_left), hi = std::min(col + 32, n);
      std::memcpy(line + lo, src + (lo - pad_left), static_cast<size_t>(hi - lo) * sizeof(float));
    }
    const __m256 v0 = _mm256_loadu_ps(p), v1 = _mm256_loadu_ps(p + 8), v2 = _mm256_loadu_ps(p + 16),
                 v3 = _mm256_loadu_ps(p + 24);
    // Within each 128-bit lane a 4x4 transpose; the permute then puts the two lanes' halves in order.
    const __m256 t0 = _mm256_unpacklo_ps(v0, v1), t1 = _mm256_unpackhi_ps(v0, v1);
    const __m256 t2 = _mm256_unpacklo_ps(v2, v3), t3 = _mm256_unpackhi_ps(v2, v3);
    float* out = phases + col / 4;
    _mm256_storeu_ps(out, _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t0, t2, 0x44), order));
    _mm256_storeu_ps(out + phase, _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t0, t2, 0xEE), order));
    _mm256_storeu_ps(out + 2 * phase, _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t1, t3, 0x44), order));
    _mm256_storeu_ps(out + 3 * phase, _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t1, t3, 0xEE), order));
  }
}

// Y = A^T m A for 8 tiles, plus bias and the clamp; writes the 4x4 blocks of tiles whose outputs lie
// inside [rows_left, cols_left) of `y`.
METALNN_AVX2_INLINE void output_transform_8_f4_body(const float* m, int64_t m_stride, float bias, float lo,
                                                    float hi, float* y, int64_t y_stride, int64_t rows_left,
                                                    int64_t cols_left) {
  __m256 s[4][6];  // A^T m
  output_columns_6(m, m_stride, s);
  const __m256 b = _mm256_set1_ps(bias), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  for (int r = 0; r < 4 && r < rows_left; ++r) {
    __m256 o[4];
    output_transform_6(s[r], o);
    for (int c = 0; c < 4; ++c) o[c] = _mm256_min_ps(vhi, _mm256_max_ps(vlo, _mm256_add_ps(o[c], b)));
    // Transpose to output order: tile k's four columns are outputs 4k .. 4k + 3.
    const __m256 t0 = _mm256_unpacklo_ps(o[0], o[1]), t1 = _mm256_unpackhi_ps(o[0], o[1]);
    const __m256 t2 = _mm256_unpacklo_ps(o[2], o[3]), t3 = _mm256_unpackhi_ps(o[2], o[3]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 out[4] = {_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u2, u3, 0x20),
                           _mm256_permute2f128_ps(u0, u1, 0x31), _mm256_permute2f128_ps(u2, u3, 0x31)};
    float* row = y + r * y_stride;
    for (int q = 0; q < 4; ++q) {
      const int64_t n = cols_left - 8 * q;
      if (n >= 8) {
        _mm256_storeu_ps(row + 8 * q, out[q]);
      } else {
        if (n > 0) _mm256_maskstore_ps(row + 8 * q, first_lanes(n), out[q]);
        break;
      }
    }
  }
}

// The F(4x4, 3x3) transforms hold 36 vectors: compiled for AVX-512 as well, where 32 registers
// (instead of 16) keep them out of the stack; used where the GEMM runs AVX-512.
#define METALNN_AVX512VL __attribute__((target("avx512f,avx512vl,avx2,fma")))
METALNN_AVX2 void input_transform_8_f4_avx2(const float* phases, int64_t phase_stride, float* v, int64_t v_stride) {
  input_transform_8_f4_body(phases, phase_stride, v, v_stride);
}
METALNN_AVX512VL void input_transform_8_f4_avx512(const float* phases, int64_t phase_stride, float* v,
                                                  int64_t v_stride) {
  input_transform_8_f4_body(phases, phase_stride, v, v_stride);
}
METALNN_AVX2 void output_transform_8_f4_avx2(const float* m, int64_t m_stride, float bias, float lo, float hi,
                                             float* y, int64_t y_stride, int64_t rows_left, int64_t cols_left) {
  output_transform_8_f4_body(m, m_stride, bias, lo, hi, y, y_stride, rows_left, cols_left);
}
METALNN_AVX512VL void output_transform_8_f4_avx512(const float* m, int64_t m_stride, float bias, float lo, float hi,
                                                   float* y, int64_t y_stride, int64_t rows_left, int64_t cols_left) {
  output_transform_8_f4_body(m, m_stride, bias, lo, hi, y, y_stride, rows_left, cols_left);
}

// Maps of at most 8x8 outputs, F(2x2, 3x3): tile (ty, tx) of an image's 4x4 grid in lane 4 ty + tx.
// `padded` is a channel's plane with zeros around, 10 rows of 10 floats (row r, column c holds input
// row r - pad_top, column c - pad_left): V = B^T d B, the 16 results to v + xi * v_stride.
METALNN_AVX512VL void small_input_transform(const float* padded, float* v, int64_t v_stride) {
  const __m512i corner = _mm512_setr_epi32(0, 2, 4, 6, 20, 22, 24, 26, 40, 42, 44, 46, 60, 62, 64, 66);
  __m512 d[4][4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j)
      d[i][j] = _mm512_i32gather_ps(_mm512_add_epi32(corner, _mm512_set1_epi32(10 * i + j)), padded, 4);
  input_transform_4x4(d, v, v_stride);
}

// Output (m ty + r, m tx + c) of tile (ty, tx) (lane 4 ty + tx) of `value` into the out_h x out_w
// plane y, for the tiles where it lies inside the map.
METALNN_AVX512VL inline void scatter_grid(float* y, int64_t out_h, int64_t out_w, int m, int r, int c, __m512 value) {
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i mm = _mm512_set1_epi32(m), w = _mm512_set1_epi32(static_cast<int>(out_w));
  const __m512i row = _mm512_add_epi32(_mm512_mullo_epi32(_mm512_srli_epi32(lane, 2), mm), _mm512_set1_epi32(r));
  const __m512i col = _mm512_add_epi32(_mm512_mullo_epi32(_mm512_and_si512(lane, _mm512_set1_epi32(3)), mm),
                                       _mm512_set1_epi32(c));
  const __mmask16 inside =
      _mm512_cmplt_epi32_mask(row, _mm512_set1_epi32(static_cast<int>(out_h))) & _mm512_cmplt_epi32_mask(col, w);
  _mm512_mask_i32scatter_ps(y, inside, _mm512_add_epi32(_mm512_mullo_epi32(row, w), col), value, 4);
}

// Y = A^T m A for an image's 16 tiles, plus bias and the clamp, into its out_h x out_w plane y (the
// outputs of tiles past the map's edge are dropped).
METALNN_AVX512VL void small_output_transform(const float* m, int64_t m_stride, float bias, float lo, float hi,
                                             float* y, int64_t out_h, int64_t out_w) {
  __m512 out[2][2];
  output_transform_4x4(m, m_stride, out);
  const __m512 b = _mm512_set1_ps(bias), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 2; ++c)
      scatter_grid(y, out_h, out_w, 2, r, c, _mm512_min_ps(vhi, _mm512_max_ps(vlo, _mm512_add_ps(out[r][c], b))));
}

// small_input_transform for F(4x4, 3x3): `padded` has 18 rows of 18 floats; writes 36 results.
METALNN_AVX512VL void small_input_transform_f4(const float* padded, float* v, int64_t v_stride) {
  const __m512i corner = _mm512_setr_epi32(0, 4, 8, 12, 72, 76, 80, 84, 144, 148, 152, 156, 216, 220, 224, 228);
  __m512 t[6][6];  // B^T d, t[i][j]
  for (int j = 0; j < 6; ++j) {
    __m512 d[6], r[6];
    for (int i = 0; i < 6; ++i)
      d[i] = _mm512_i32gather_ps(_mm512_add_epi32(corner, _mm512_set1_epi32(18 * i + j)), padded, 4);
    input_transform_6(d, r);
    for (int i = 0; i < 6; ++i) t[i][j] = r[i];
  }
  input_rows_6(t, v, v_stride);
}

// small_output_transform for F(4x4, 3x3).
METALNN_AVX512VL void small_output_transform_f4(const float* m, int64_t m_stride, float bias, float lo, float hi,
                                                float* y, int64_t out_h, int64_t out_w) {
  __m512 s[4][6];  // A^T m
  output_columns_6(m, m_stride, s);
  const __m512 b = _mm512_set1_ps(bias), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  for (int r = 0; r < 4; ++r) {
    __m512 o[4];
    output_transform_6(s[r], o);
    for (int c = 0; c < 4; ++c)
      scatter_grid(y, out_h, out_w, 4, r, c, _mm512_min_ps(vhi, _mm512_max_ps(vlo, _mm512_add_ps(o[c], b))));
  }
}
#endif

}  // namespace

bool WinogradConv::supports(const Window2d& w) {
  // Below 8x8 outputs the row vectors of tiles are mostly padding and the transformed weights (16/9 the
  // size of the originals) cost more to stream than the multiplies they save: such maps have their own
  // form (run_small).
  const bool window = has_avx2_fma() && w.kernel_h == 3 && w.kernel_w == 3 && w.stride_h == 1 && w.stride_w == 1 &&
                      w.dilation_h == 1 && w.dilation_w == 1;
  return window && ((w.out_h >= 8 && w.out_w >= 8) || small_map(w, 1, 0));
}

bool WinogradConv::small_map(const Window2d& w, int64_t batch, int64_t weights) {
#ifdef METALNN_HAS_AVX2_KERNELS
  const auto within = [&](int64_t lo, int64_t hi) {
    return w.out_h >= lo && w.out_w >= lo && w.out_h <= hi && w.out_w <= hi;
  };
  return has_avx512() &&
         (within(6, 8) || (within(10, 16) && batch >= kGridF4MinBatch && weights <= kGridF4MaxWeights));
#else
  (void)w, (void)batch, (void)weights;
  return false;
#endif
}

int WinogradConv::tile_size(const Window2d& w, int64_t batch, int64_t weights) {
  if (small_map(w, batch, weights)) return w.out_h > 8 ? 4 : 2;
  // A vector holds 8 tiles of a row: 32 outputs wide at m = 4. Rows of 16 or fewer would leave half
  // its lanes padding, and short maps most tile rows.
  return w.out_w >= kF4MinSize && w.out_h >= kF4MinSize ? 4 : 2;
}

bool WinogradConv::grid_blocks(int64_t batch) const {
  const int64_t columns = batch * 16;
  return grid_ && out_c_ >= 2 * in_c_ && points_ * out_c_ * columns > kGridBlockMinFloats &&
         points_ * in_c_ * columns <= kGridBlockMaxInputFloats;
}

WinogradConv::WinogradConv(const Tensor& weights, int64_t out_channels, int64_t in_channels, const Window2d& window,
                           int64_t batch)
    : out_c_(out_channels),
      in_c_(in_channels),
      win_(window),
      grid_(small_map(window, batch, out_channels * in_channels)),
      m_(tile_size(window, batch, out_channels * in_channels)),
      points_((m_ + 2) * (m_ + 2)),
      block_rows_(grid_blocks(batch) ? std::min(kGridBlockRows, out_channels) : out_channels) {
  tiles_h_ = (win_.out_h + m_ - 1) / m_;
  tiles_w_ = (win_.out_w + m_ - 1) / m_;
  row_tiles_ = (tiles_w_ + kLanes - 1) / kLanes * kLanes;
  const int64_t wanted = std::max<int64_t>(1, kTargetTiles / row_tiles_);
  const int64_t affordable = std::max<int64_t>(1, kMaxBufferFloats / (points_ * (in_c_ + out_c_) * row_tiles_));
  chunk_rows_ = std::min({wanted, affordable, tiles_h_});
  const std::string how = m_ == 4 ? "winograd_f4x3" : "winograd_f2x3";
  const GemmIsa isa = gemm_isa();
  if (isa == GemmIsa::Blas) {
    u_ = transformed_weights().get(weights, how, [&] { return transform_weights(weights); });
    return;
  }
  const int64_t blocks = (out_c_ + block_rows_ - 1) / block_rows_;
  const std::string blocked = block_rows_ < out_c_ ? "/rows" + std::to_string(block_rows_) : "";
  packed_u_ = packed_weights().get(weights, how + "/gemm" + std::to_string(int(isa)) + blocked, [&] {
    const std::shared_ptr<const std::vector<float>> u = transform_weights(weights);
    auto packed = std::make_shared<std::vector<PackedMatrix>>();
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t o0 = blk * block_rows_, rows = std::min(block_rows_, out_c_ - o0);
      for (int64_t xi = 0; xi < points_; ++xi)
        packed->push_back(pack_left(u->data() + (xi * out_c_ + o0) * in_c_, in_c_, false, rows, in_c_, isa));
    }
    return std::shared_ptr<const std::vector<PackedMatrix>>(std::move(packed));
  });
}

std::shared_ptr<const std::vector<float>> WinogradConv::transform_weights(const Tensor& weights) const {
  const int64_t n = m_ + 2, points = points_;
  // U = G g G^T per (out, in) pair.
  static const float g2[4][3] = {{1, 0, 0}, {.5f, .5f, .5f}, {.5f, -.5f, .5f}, {0, 0, 1}};
  static const float g4[6][3] = {{1.f / 4, 0, 0},           {-1.f / 6, -1.f / 6, -1.f / 6},
                                 {-1.f / 6, 1.f / 6, -1.f / 6}, {1.f / 24, 1.f / 12, 1.f / 6},
                                 {1.f / 24, -1.f / 12, 1.f / 6}, {0, 0, 1}};
  const float(*g_rows)[3] = n == 6 ? g4 : g2;
  auto u = std::make_shared<std::vector<float>>(static_cast<size_t>(points * out_c_ * in_c_), 0.f);
  for (int64_t o = 0; o < out_c_; ++o)
    for (int64_t i = 0; i < in_c_; ++i) {
      const float* g = weights.data<float>() + (o * in_c_ + i) * 9;
      float gg[6][3];  // G g
      for (int r = 0; r < n; ++r)
        for (int c = 0; c < 3; ++c) gg[r][c] = g_rows[r][0] * g[c] + g_rows[r][1] * g[3 + c] + g_rows[r][2] * g[6 + c];
      for (int r = 0; r < n; ++r)
        for (int c = 0; c < n; ++c)
          (*u)[static_cast<size_t>(((r * n + c) * out_c_ + o) * in_c_ + i)] =
              gg[r][0] * g_rows[c][0] + gg[r][1] * g_rows[c][1] + gg[r][2] * g_rows[c][2];
    }
  return u;
}

void WinogradConv::run(const float* x, const float* bias, float* y, int64_t batch, const Activation& act,
                       ThreadPool& pool, const float* res, int64_t y_image) const {
  if (y_image == 0) y_image = out_c_ * win_.out_size();
  if (grid_) {
    run_small(x, bias, y, batch, act, pool, res, y_image);
    return;
  }
  const int64_t threads = pool.num_threads();
  if (batch >= threads || tiles_h_ > chunk_rows_) {
    // Independent row chunks, each transformed, multiplied and transformed back by one thread.
    const int64_t chunks = (tiles_h_ + chunk_rows_ - 1) / chunk_rows_;
    pool.parallel_for(batch * chunks, 1, [&](int64_t t0, int64_t t1) {
      Scratch& s = scratch();
      for (int64_t t = t0; t < t1; ++t) {
        const Chunk chunk = make_chunk(t % chunks * chunk_rows_);
        const float* xb = x + t / chunks * in_c_ * win_.in_size();
        float* yb = y + t / chunks * y_image;
        const float* rb = res ? res + t / chunks * out_c_ * win_.out_size() : nullptr;
        s.v.resize(static_cast<size_t>(points_ * point_stride(in_c_, chunk.tiles)));
        s.m.resize(static_cast<size_t>(points_ * point_stride(out_c_, chunk.tiles)));
        transform_input(xb, chunk, 0, in_c_, s.v.data());
        multiply(s.v.data(), s.m.data(), chunk.tiles, 0, points_);
        transform_output(s.m.data(), bias, yb, rb, chunk, 0, out_c_, act);
      }
    });
    return;
  }
  // A small image: one chunk, each phase split over the pool (channels, then the GEMMs, so each
  // thread reads only its share of the transformed weights).
  const Chunk chunk = make_chunk(0);
  Scratch& s = scratch();  // the caller's, shared with the workers for this call
  s.v.resize(static_cast<size_t>(points_ * point_stride(in_c_, chunk.tiles)));
  s.m.resize(static_cast<size_t>(points_ * point_stride(out_c_, chunk.tiles)));
  float *v = s.v.data(), *m = s.m.data();
  for (int64_t b = 0; b < batch; ++b) {
    const float* xb = x + b * in_c_ * win_.in_size();
    float* yb = y + b * y_image;
    const float* rb = res ? res + b * out_c_ * win_.out_size() : nullptr;
    pool.parallel_for(in_c_, 8, [&](int64_t c0, int64_t c1) { transform_input(xb, chunk, c0, c1, v); });
    pool.parallel_for(points_, 1, [&](int64_t x0, int64_t x1) { multiply(v, m, chunk.tiles, x0, x1); });
    pool.parallel_for(out_c_, 8, [&](int64_t o0, int64_t o1) {
      transform_output(m, bias, yb, rb, chunk, o0, o1, act);
    });
  }
}

void WinogradConv::run_small(const float* x, const float* bias, float* y, int64_t batch, const Activation& act,
                             ThreadPool& pool, const float* res, int64_t y_image) const {
#ifdef METALNN_HAS_AVX2_KERNELS
  constexpr int64_t kGrid = 16;  // tiles per image
  const int64_t padded_size = 4 * m_ + 2;  // rows and columns of a padded plane
  const auto input_transform = m_ == 4 ? small_input_transform_f4 : small_input_transform;
  const int64_t n = batch * kGrid;  // GEMM columns: image b's tiles at b * 16
  Scratch& s = scratch();  // the caller's, shared with the workers for this call
  s.v.resize(static_cast<size_t>(points_ * point_stride(in_c_, n)));
  float* v = s.v.data();
  const int64_t rows = std::min(win_.in_h, padded_size - win_.pad_top);
  const int64_t cols = std::max<int64_t>(0, std::min(win_.in_w, padded_size - win_.pad_left));
  pool.parallel_for(batch * in_c_, 8, [&](int64_t t0, int64_t t1) {
    float padded[18 * 18] = {};  // the cells outside the input stay zero for every plane
    for (int64_t t = t0; t < t1; ++t) {
      const float* plane = x + t * win_.in_size();
      for (int64_t r = 0; r < rows; ++r)
        std::memcpy(padded + (r + win_.pad_top) * padded_size + win_.pad_left, plane + r * win_.in_w,
                    static_cast<size_t>(cols) * sizeof(float));
      const int64_t b = t / in_c_, c = t % in_c_;
      input_transform(padded, v + c * n + b * kGrid, point_stride(in_c_, n));
    }
  });
  float lo, hi;
  const bool clamp = output_clamp(act, res, lo, hi);
  const auto output_transform = m_ == 4 ? small_output_transform_f4 : small_output_transform;
  const auto finish = [&](const float* m, int64_t m_stride, int64_t b, int64_t o) {
    float* plane = y + b * y_image + o * win_.out_size();
    output_transform(m, m_stride, bias ? bias[o] : 0.f, lo, hi, plane, win_.out_h, win_.out_w);
    if (res) residual_activation_serial(plane, res + (b * out_c_ + o) * win_.out_size(), 1, win_.out_size(), 0, act);
    else if (!clamp) apply_activation(plane, win_.out_size(), act);
  };
  if (block_rows_ == out_c_) {  // the GEMMs split by point, then the output transform by plane
    s.m.resize(static_cast<size_t>(points_ * point_stride(out_c_, n)));
    float* m = s.m.data();
    pool.parallel_for(points_, 1, [&](int64_t x0, int64_t x1) { multiply(v, m, n, x0, x1); });
    pool.parallel_for(batch * out_c_, 8, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t b = t / out_c_, o = t % out_c_;
        finish(m + o * n + b * kGrid, point_stride(out_c_, n), b, o);
      }
    });
    return;
  }
  // Both per block of output channels and share of the images, so the block's products are still in L2
  // when transformed back (all of them, for 192 channels over 8 images 3.5 MB, would go through L3).
  const int64_t blocks = (out_c_ + block_rows_ - 1) / block_rows_;
  const int64_t groups = std::min<int64_t>(batch, pool.num_threads());
  pool.parallel_for(blocks * groups, 1, [&](int64_t t0, int64_t t1) {
    thread_local AlignedFloats mb;
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t blk = t / groups, group = t % groups;
      const int64_t o0 = blk * block_rows_, rows = std::min(block_rows_, out_c_ - o0);
      const int64_t b0 = batch * group / groups, b1 = batch * (group + 1) / groups, cols = (b1 - b0) * kGrid;
      mb.resize(static_cast<size_t>(points_ * point_stride(rows, cols)));
      multiply_block(v + b0 * kGrid, n, mb.data(), cols, blk);
      for (int64_t b = b0; b < b1; ++b)
        for (int64_t o = o0; o < o0 + rows; ++o)
          finish(mb.data() + (o - o0) * cols + (b - b0) * kGrid, point_stride(rows, cols), b, o);
    }
  });
#else
  (void)x, (void)bias, (void)y, (void)batch, (void)act, (void)pool, (void)res, (void)y_image;
#endif
}

WinogradConv::Chunk WinogradConv::make_chunk(int64_t tile_row0) const {
  const int64_t rows = std::min(chunk_rows_, tiles_h_ - tile_row0);
  return {tile_row0, rows, rows * row_tiles_};
}

void WinogradConv::transform_input(const float* x, const Chunk& chunk, int64_t c0, int64_t c1, float* v) const {
#ifdef METALNN_HAS_AVX2_KERNELS
  // One channel's input rows for these tiles, zero-padded: m * rows + 2 rows. The margins stay zero
  // between channels. At m = 2 a row is wide enough for the 16-float loads of the last vector of
  // tiles; at m = 4 each row is split into its 4 column phases (column 4q + p is element q of phase
  // p), so the 8 tiles of a vector read contiguous floats.
  const int64_t rows = m_ * chunk.tile_rows + 2, ih0 = m_ * chunk.tile_row0 - win_.pad_top;
  const int64_t v_stride = point_stride(in_c_, chunk.tiles);
  thread_local std::vector<float> padded;
  if (m_ == 2) {
    const int64_t width = 2 * row_tiles_ + 16;
    padded.assign(static_cast<size_t>(rows * width), 0.f);
    for (int64_t c = c0; c < c1; ++c) {
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t ih = ih0 + r;
        if (ih < 0 || ih >= win_.in_h) continue;
        std::memcpy(&padded[static_cast<size_t>(r * width + win_.pad_left)], x + (c * win_.in_h + ih) * win_.in_w,
                    static_cast<size_t>(win_.in_w) * sizeof(float));
      }
      for (int64_t tr = 0; tr < chunk.tile_rows; ++tr)
        for (int64_t k = 0; k < row_tiles_; k += kLanes)
          input_transform_8(&padded[static_cast<size_t>(2 * tr * width + 2 * k)], width,
                            v + c * chunk.tiles + tr * row_tiles_ + k, v_stride);
    }
    return;
  }
  const auto transform = gemm_isa() == GemmIsa::Avx512 ? input_transform_8_f4_avx512 : input_transform_8_f4_avx2;
  const int64_t phase = row_tiles_ + kLanes;  // floats per phase row: the last vector reads one past row_tiles_
  padded.assign(static_cast<size_t>(rows * 4 * phase), 0.f);
  thread_local std::vector<float> line;  // for split_phases_4
  line.assign(static_cast<size_t>(4 * phase), 0.f);
  for (int64_t c = c0; c < c1; ++c) {
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t ih = ih0 + r;
      if (ih < 0 || ih >= win_.in_h) continue;
      split_phases_4(x + (c * win_.in_h + ih) * win_.in_w, win_.pad_left, win_.in_w, line.data(),
                     &padded[static_cast<size_t>(r * 4 * phase)], phase);
    }
    for (int64_t tr = 0; tr < chunk.tile_rows; ++tr)
      for (int64_t k = 0; k < row_tiles_; k += kLanes)
        transform(&padded[static_cast<size_t>(4 * tr * 4 * phase + k)], phase,
                  v + c * chunk.tiles + tr * row_tiles_ + k, v_stride);
  }
#else
  (void)x, (void)chunk, (void)c0, (void)c1, (void)v;
#endif
}

void WinogradConv::multiply(const float* v, float* m, int64_t tiles, int64_t xi0, int64_t xi1) const {
  for (int64_t xi = xi0; xi < xi1; ++xi)
    gemm(nullptr, out_c_, tiles, in_c_, 1.f,
         {u_ ? u_->data() + xi * out_c_ * in_c_ : nullptr, in_c_, false, packed_u_ ? &(*packed_u_)[xi] : nullptr},
         {v + xi * point_stride(in_c_, tiles), tiles, false, nullptr}, 0.f, m + xi * point_stride(out_c_, tiles),
         tiles, {});
}

void WinogradConv::multiply_block(const float* v, int64_t ldv, float* m, int64_t tiles, int64_t block) const {
  const int64_t o0 = block * block_rows_, rows = std::min(block_rows_, out_c_ - o0);
  for (int64_t xi = 0; xi < points_; ++xi)
    gemm(nullptr, rows, tiles, in_c_, 1.f,
         {u_ ? u_->data() + (xi * out_c_ + o0) * in_c_ : nullptr, in_c_, false,
          packed_u_ ? &(*packed_u_)[block * points_ + xi] : nullptr},
         {v + xi * point_stride(in_c_, ldv), ldv, false, nullptr}, 0.f, m + xi * point_stride(rows, tiles), tiles, {});
}

void WinogradConv::transform_output(const float* m, const float* bias, float* y, const float* res, const Chunk& chunk,
                                    int64_t o0, int64_t o1, const Activation& act) const {
#ifdef METALNN_HAS_AVX2_KERNELS
  float lo, hi;
  const bool clamp = output_clamp(act, res, lo, hi);
  const int64_t m_stride = point_stride(out_c_, chunk.tiles);
  const auto transform_f4 =
      gemm_isa() == GemmIsa::Avx512 ? output_transform_8_f4_avx512 : output_transform_8_f4_avx2;
  const int64_t oh0 = m_ * chunk.tile_row0, oh1 = std::min(win_.out_h, m_ * (chunk.tile_row0 + chunk.tile_rows));
  for (int64_t o = o0; o < o1; ++o) {
    float* yo = y + o * win_.out_size();
    const float b = bias ? bias[o] : 0.f;
    for (int64_t tr = 0; tr < chunk.tile_rows; ++tr) {
      const int64_t oh = oh0 + m_ * tr;
      for (int64_t k = 0; k < row_tiles_ && m_ * k < win_.out_w; k += kLanes) {
        const float* mk = m + o * chunk.tiles + tr * row_tiles_ + k;
        float* yk = yo + oh * win_.out_w + m_ * k;
        if (m_ == 2)
          output_transform_8(mk, m_stride, b, lo, hi, yk, win_.out_w, win_.out_h - oh, win_.out_w - 2 * k);
        else
          transform_f4(mk, m_stride, b, lo, hi, yk, win_.out_w, win_.out_h - oh, win_.out_w - 4 * k);
      }
    }
    float* rows = yo + oh0 * win_.out_w;
    if (res) residual_activation_serial(rows, res + (rows - y), 1, (oh1 - oh0) * win_.out_w, 0, act);
    else if (!clamp) apply_activation(rows, (oh1 - oh0) * win_.out_w, act);
  }
#else
  (void)m, (void)bias, (void)y, (void)res, (void)chunk, (void)o0, (void)o1, (void)act;
#endif
}

}  // namespace metalnn::cpu
