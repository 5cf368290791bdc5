#include "cpu/pool_rows.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <string>

#include "cpu/cpu_features.h"
#include "cpu/simd_avx2.h"

namespace metalnn::cpu {

namespace {
// METALNN_POOL_KERNELS=avx512|avx2|portable caps the choice (read once).
KernelIsa pool_isa() {
  static const KernelIsa isa = kernel_isa("METALNN_POOL_KERNELS");
  return isa;
}
}  // namespace

bool pool_rows_avx2() { return pool_isa() != KernelIsa::Portable; }

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


#define METALNN_POOL_AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define METALNN_POOL_AVX512_INLINE __attribute__((target("avx512f,avx512vl,avx2,fma"), always_inline)) inline

// The max (sum) over rows[0, nrows) of input columns c0 + l for the 16 lanes, `outside` where c0 + l
// lies outside [0, in_w) (masked lanes are never read).
template <bool Max>
METALNN_POOL_AVX512_INLINE __m512 column_vector(const float* const* rows, int64_t nrows, int64_t c0, int64_t in_w,
                                                __m512 outside) {
  __m512 acc = outside;
  if (c0 >= 0 && c0 + 16 <= in_w) {
    for (int64_t r = 0; r < nrows; ++r) {
      const __m512 v = _mm512_loadu_ps(rows[r] + c0);
      acc = Max ? _mm512_max_ps(acc, v) : _mm512_add_ps(acc, v);
    }
  } else if (c0 + 16 > 0 && c0 < in_w) {
    const int64_t lo = std::max<int64_t>(0, -c0), hi = std::min<int64_t>(16, in_w - c0);
    const __mmask16 inside = static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
    for (int64_t r = 0; r < nrows; ++r) {
      const __m512 v = _mm512_mask_loadu_ps(outside, inside, rows[r] + c0);
      acc = Max ? _mm512_max_ps(acc, v) : _mm512_add_ps(acc, v);
    }
  }
  return acc;
}

// Lanes [s, 16) of a then [0, s) of b, 0 <= s < 8.
METALNN_POOL_AVX512_INLINE __m512 lanes_from512(__m512 a, __m512 b, int64_t s) {
  const __m512i x = _mm512_castps_si512(a), y = _mm512_castps_si512(b);
  switch (s) {
    case 1: return _mm512_castsi512_ps(_mm512_alignr_epi32(y, x, 1));
    case 2: return _mm512_castsi512_ps(_mm512_alignr_epi32(y, x, 2));
    case 3: return _mm512_castsi512_ps(_mm512_alignr_epi32(y, x, 3));
    case 4: return _mm512_castsi512_ps(_mm512_alignr_epi32(y, x, 4));
    case 5: return _mm512_castsi512_ps(_mm512_alignr_epi32(y, x, 5));
    case 6: return _mm512_castsi512_ps(_mm512_alignr_epi32(y, x, 6));
    case 7: return _mm512_castsi512_ps(_mm512_alignr_epi32(y, x, 7));
    default: return a;
  }
}

// pool_row_s2 in registers, 16 outputs a step: the column maxima (sums) of padded columns
// [32i, 32i + 48) as three vectors, the last one carried to the next step; their even and odd columns
// made by permutes, each tap one lane shift of them.
// NR and T, when not 0, fix nrows and taps at compile time (the loops over them unrolled).
template <bool Max, int NR = 0, int T = 0>
METALNN_POOL_AVX512 void row_s2_avx512(const float* const* rows, int64_t nrows, int64_t pad_left, int64_t in_w,
                                       int64_t taps, int64_t out_w, float* out, float row_scale,
                                       const float* col_scale) {
  if (NR) nrows = NR;
  if (T) taps = T;
  const __m512 outside = _mm512_set1_ps(Max ? -std::numeric_limits<float>::infinity() : 0.f);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  __m512 v0 = column_vector<Max>(rows, nrows, -pad_left, in_w, outside);
  for (int64_t ow = 0; ow < out_w; ow += 16) {
    const int64_t c = 2 * ow - pad_left;
    const __m512 v1 = column_vector<Max>(rows, nrows, c + 16, in_w, outside);
    const __m512 v2 = column_vector<Max>(rows, nrows, c + 32, in_w, outside);
    const __m512 e0 = _mm512_permutex2var_ps(v0, even, v1), o0 = _mm512_permutex2var_ps(v0, odd, v1);
    __m512 acc = e0;
    if (taps > 1) acc = Max ? _mm512_max_ps(acc, o0) : _mm512_add_ps(acc, o0);
    if (taps > 2) {
      const __m512 e1 = _mm512_permutexvar_ps(even, v2), o1 = _mm512_permutexvar_ps(odd, v2);
      for (int64_t j = 2; j < taps; ++j) {
        const __m512 t = j % 2 ? lanes_from512(o0, o1, j / 2) : lanes_from512(e0, e1, j / 2);
        acc = Max ? _mm512_max_ps(acc, t) : _mm512_add_ps(acc, t);
      }
    }
    if (!Max) acc = _mm512_mul_ps(_mm512_mul_ps(acc, _mm512_set1_ps(row_scale)), _mm512_loadu_ps(col_scale + ow));
    if (ow + 16 <= out_w) _mm512_storeu_ps(out + ow, acc);
    else _mm512_mask_storeu_ps(out + ow, static_cast<__mmask16>((1u << (out_w - ow)) - 1u), acc);
    v0 = v2;
  }
}
}  // namespace

template <bool Max>
void pool_row_s2(const float* const* rows, int64_t nrows, int64_t pad_left, int64_t in_w, int64_t taps, int64_t out_w,
                 float* buf, float* out, float row_scale, const float* col_scale) {
  if (pool_isa() == KernelIsa::Avx512) {
    // 3x3 windows (2 rows at a map's edge): SqueezeNet's and ResNet's pools and the stems' fused ones.
    if (taps == 3 && nrows == 3)
      return row_s2_avx512<Max, 3, 3>(rows, nrows, pad_left, in_w, taps, out_w, out, row_scale, col_scale);
    if (taps == 3 && nrows == 2)
      return row_s2_avx512<Max, 2, 3>(rows, nrows, pad_left, in_w, taps, out_w, out, row_scale, col_scale);
    return row_s2_avx512<Max>(rows, nrows, pad_left, in_w, taps, out_w, out, row_scale, col_scale);
  }
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
