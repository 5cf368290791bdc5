// AVX-512 helpers for kernels compiled with function-level target attributes (the library itself
// stays baseline x86-64); callers check has_avx512() first.
#pragma once
#ifdef METALNN_HAS_AVX2_KERNELS
#include <immintrin.h>

#include <cstdint>

#define METALNN_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define METALNN_AVX512_INLINE __attribute__((target("avx512f,avx2,fma"), always_inline)) inline

namespace metalnn::cpu {

// The first n (< 16) lanes.
inline __mmask16 first_lanes16(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }

// e^x by x = n ln2 + r, |r| <= ln2 / 2, a degree-6 polynomial for e^r and vscalefps for the 2^n.
// Below -87 (where e^x nears the smallest normal float) it returns 0, above float's range +inf;
// NaN stays NaN.
METALNN_AVX512_INLINE __m512 exp16(__m512 x) {
  const __m512 lo = _mm512_set1_ps(-87.f);
  const __m512 xc = _mm512_min_ps(_mm512_set1_ps(88.8f), _mm512_max_ps(lo, x));  // NaN passes (second operand)
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);  // ln2 in two parts, the first exact in n
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(1.9875691500e-4f), r, _mm512_set1_ps(1.3981999507e-3f));
  for (const float c : {8.3334519073e-3f, 4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f})
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.f)));
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, lo, _CMP_NLT_UQ), _mm512_scalef_ps(p, n));
}

// 1 / d to about 1 ulp: the 14-bit estimate and one Newton step.
METALNN_AVX512_INLINE __m512 reciprocal16(__m512 d) {
  const __m512 r = _mm512_rcp14_ps(d);
  return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.f)), r);
}

}  // namespace metalnn::cpu
#endif
