// Small AVX2 building blocks shared by the CPU kernels that vectorise by hand; only for functions
// compiled with the avx2/fma target attribute and called after has_avx2_fma().
#pragma once
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <cstdint>

#define METALNN_HAS_AVX2_KERNELS 1
#define METALNN_AVX2 __attribute__((target("avx2,fma")))
#define METALNN_AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) inline

namespace metalnn::cpu {

// 8 floats p[0], p[S], ..., p[7S] for S = 1 or 2 (S = 2 reads p[0..15]).
template <int S>
METALNN_AVX2_INLINE __m256 load_strided(const float* p) {
  if (S == 1) return _mm256_loadu_ps(p);
  __m256 even = _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), _MM_SHUFFLE(3, 1, 2, 0)));
}

// Lanes [0, n) set, for masked loads and stores of a vector's first n < 8 floats.
METALNN_AVX2_INLINE __m256i first_lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}


// e^x to about 2 ulp: x = n ln2 + r with |r| <= ln2 / 2, a degree-6 polynomial for e^r, 2^n built
// in the exponent bits. Above float's range it returns +inf, below e^-86.6 (about 2.6e-38, near the
// smallest normal float) 0, and NaN stays NaN.
METALNN_AVX2_INLINE __m256 exp_avx2(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.72283935546875f), lo = _mm256_set1_ps(-86.6f);
  const __m256 xc = _mm256_min_ps(hi, _mm256_max_ps(lo, x));  // NaN passes through (second operand)
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);  // ln2 in two parts, exact product first
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.f)));
  // n is in [-125, 128]; 2^128 overflows the exponent, so build 2^(n-1) and double.
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(126)), 23);
  __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(bits)), _mm256_set1_ps(2.f));
  y = _mm256_blendv_ps(y, _mm256_set1_ps(__builtin_inff()), _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
  return _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
}

}  // namespace metalnn::cpu
#endif
