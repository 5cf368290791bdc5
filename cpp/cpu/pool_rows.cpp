#include "cpu/pool_rows.h"

#include <cstdlib>
#include <limits>
#include <string>

#include "cpu/cpu_features.h"
#include "cpu/simd_avx2.h"

namespace metalnn::cpu {

bool pool_rows_avx2() {
  static const bool yes = [] {
    const char* env = std::getenv("METALNN_POOL_KERNELS");
    return has_avx2_fma() && !(env && std::string(env) == "portable");
  }();
  return yes;
}

#ifdef METALNN_HAS_AVX2_KERNELS
namespace {

// Stride-2 rows, dilation 1 (MaxPool, or AveragePool's sums): buf holds a row of the padded input,
// column pc at buf[pc], each entry the max or sum over the window's input rows (-inf or 0 in the
// padding). It is written once, in vectors, and read back in the same vectors (a load straddling two
// recent stores would wait for them); the column phases and shifts the taps need are made in registers.

template <bool Max>
METALNN_AVX2_INLINE __m256 combine(__m256 a, __m256 b) {
  return Max ? _mm256_max_ps(a, b) : _mm256_add_ps(a, b);
}

// buf[8m + l] for m < vectors: the max (sum) over rows[0, nrows) of input column 8m + l - pad_left.
template <bool Max>
METALNN_AVX2 void vertical_avx2(const float* const* rows, int64_t nrows, int64_t pad_left, int64_t in_w,
                                int64_t vectors, float* buf) {
  const __m256 outside = _mm256_set1_ps(Max ? -std::numeric_limits<float>::infinity() : 0.f);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t m = 0; m < vectors; ++m) {
    const int64_t c0 = 8 * m - pad_left;
    __m256 acc = outside;
    if (c0 >= 0 && c0 + 8 <= in_w) {
      for (int64_t r = 0; r < nrows; ++r) acc = combine<Max>(acc, _mm256_loadu_ps(rows[r] + c0));
    } else if (c0 + 8 > 0 && c0 < in_w) {  // lanes with 0 <= c0 + l < in_w
      const __m256i inside = _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(int(in_w - c0)), lane),
                                              _mm256_cmpgt_epi32(lane, _mm256_set1_epi32(int(-c0 - 1))));
      const __m256 mask = _mm256_castsi256_ps(inside);
      for (int64_t r = 0; r < nrows; ++r)
        acc = combine<Max>(acc, _mm256_blendv_ps(outside, _mm256_maskload_ps(rows[r] + c0, inside), mask));
    }
    _mm256_storeu_ps(buf + 8 * m, acc);
  }
}

// Lanes [s, 8) of a then [0, s) of b, 0 <= s < 8.
METALNN_AVX2_INLINE __m256 lanes_from(__m256 a, __m256 b, int s) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i idx = _mm256_and_si256(_mm256_add_epi32(lane, _mm256_set1_epi32(s)), _mm256_set1_epi32(7));
  const __m256 from_b = _mm256_castsi256_ps(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32(7 - s)));
  return _mm256_blendv_ps(_mm256_permutevar8x32_ps(a, idx), _mm256_permutevar8x32_ps(b, idx), from_b);
}

// The even (Odd = 0) or odd lanes of a then of b.
template <int Odd>
METALNN_AVX2_INLINE __m256 phase_of(__m256 a, __m256 b) {
  const __m256 v = _mm256_shuffle_ps(a, b, Odd ? _MM_SHUFFLE(3, 1, 3, 1) : _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
}

// out[ow] = max (sum) over taps j < 16 of buf[2 ow + j] for ow < out_w, sums times row_scale x
// col_scale[ow]; buf holds 16 ceil(out_w / 8) + 16 floats, col_scale (sums only) 8 ceil(out_w / 8).
template <bool Max>
METALNN_AVX2 void horizontal_s2_avx2(const float* buf, int64_t taps, int64_t out_w, float* out,
                                     float row_scale = 1.f, const float* col_scale = nullptr) {
  for (int64_t ow = 0; ow < out_w; ow += 8) {
    const float* p = buf + 2 * ow;
    const __m256 a0 = _mm256_loadu_ps(p), a1 = _mm256_loadu_ps(p + 8);
    const __m256 e0 = phase_of<0>(a0, a1), o0 = phase_of<1>(a0, a1);
    __m256 acc = taps > 1 ? combine<Max>(e0, o0) : e0;
    if (taps > 2) {
      const __m256 a2 = _mm256_loadu_ps(p + 16), a3 = _mm256_loadu_ps(p + 24);
      const __m256 e1 = phase_of<0>(a2, a3), o1 = phase_of<1>(a2, a3);
      for (int64_t j = 2; j < taps; ++j)
        acc = combine<Max>(acc, j % 2 ? lanes_from(o0, o1, int(j / 2)) : lanes_from(e0, e1, int(j / 2)));
    }
    if (!Max) acc = _mm256_mul_ps(_mm256_mul_ps(acc, _mm256_set1_ps(row_scale)), _mm256_loadu_ps(col_scale + ow));
    if (ow + 8 <= out_w) {
      _mm256_storeu_ps(out + ow, acc);
    } else {
      _mm256_maskstore_ps(out + ow, first_lanes(out_w - ow), acc);
    }
  }
}

}  // namespace

template <bool Max>
void pool_row_s2(const float* const* rows, int64_t nrows, int64_t pad_left, int64_t in_w, int64_t taps, int64_t out_w,
                 float* buf, float* out, float row_scale, const float* col_scale) {
  vertical_avx2<Max>(rows, nrows, pad_left, in_w, pool_row_floats(out_w) / 8, buf);
  horizontal_s2_avx2<Max>(buf, taps, out_w, out, row_scale, col_scale);
}

template void pool_row_s2<true>(const float* const*, int64_t, int64_t, int64_t, int64_t, int64_t, float*, float*, float,
                                const float*);
template void pool_row_s2<false>(const float* const*, int64_t, int64_t, int64_t, int64_t, int64_t, float*, float*, float,
                                 const float*);
#else
template <bool Max>
void pool_row_s2(const float* const*, int64_t, int64_t, int64_t, int64_t, int64_t, float*, float*, float, const float*) {}
template void pool_row_s2<true>(const float* const*, int64_t, int64_t, int64_t, int64_t, int64_t, float*, float*, float,
                                const float*);
template void pool_row_s2<false>(const float* const*, int64_t, int64_t, int64_t, int64_t, int64_t, float*, float*, float,
                                 const float*);
#endif

}  // namespace metalnn::cpu
