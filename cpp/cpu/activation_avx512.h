// Activations on 16-float AVX-512 vectors, for kernels that apply them in registers before the
// store. Only for functions compiled with the avx512f target attribute and called after has_avx512().
#pragma once
#include <cstdint>

#include "cpu/simd_avx2.h"

#ifdef METALNN_HAS_AVX2_KERNELS
#include "core/activation.h"

#define METALNN_AVX512_INLINE \
  __attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma"), always_inline)) inline

namespace metalnn::cpu {

// e^x to about 2 ulp as exp_avx2 computes it (x = n ln2 + r, a degree-6 polynomial for e^r), with
// scalef building 2^n: from x in [-104, 89] it overflows to +inf and underflows through the
// subnormals to 0 as e^x does, so the clamp is the only range handling. NaN stays NaN.
METALNN_AVX512_INLINE __m512 exp_avx512(__m512 x) {
  const __m512 xc = _mm512_min_ps(_mm512_set1_ps(89.f), _mm512_max_ps(_mm512_set1_ps(-104.f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.f)));
  return _mm512_scalef_ps(p, n);
}

// 1 / (1 + e) for e >= 0 (or NaN): a reciprocal estimate and one Newton step (a division costs
// several times more), 0 where 1 + e is infinite, as the division gives.
METALNN_AVX512_INLINE __m512 one_over_one_plus(__m512 e) {
  const __m512 one = _mm512_set1_ps(1.f), d = _mm512_add_ps(one, e);
  __m512 r = _mm512_rcp14_ps(d);
  r = _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, one), r);
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(d, _mm512_set1_ps(__builtin_inff()), _CMP_NEQ_UQ), r);
}

struct IdentityOp512 {
  METALNN_AVX512_INLINE __m512 operator()(__m512 v) const { return v; }
};
struct LeakyReluOp512 {
  __m512 slope;
  METALNN_AVX512_INLINE __m512 operator()(__m512 v) const {
    return _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v, slope);
  }
};
struct HardSigmoidOp512 {
  __m512 a, b;
  METALNN_AVX512_INLINE __m512 operator()(__m512 v) const {
    return _mm512_min_ps(_mm512_set1_ps(1.f), _mm512_max_ps(_mm512_setzero_ps(), _mm512_fmadd_ps(a, v, b)));
  }
};
struct HardSwishOp512 {
  METALNN_AVX512_INLINE __m512 operator()(__m512 v) const {
    return _mm512_mul_ps(v, HardSigmoidOp512{_mm512_set1_ps(1.f / 6.f), _mm512_set1_ps(0.5f)}(v));
  }
};
struct SigmoidOp512 {
  METALNN_AVX512_INLINE __m512 operator()(__m512 v) const {
    return one_over_one_plus(exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), v)));
  }
};
// x * sigmoid(alpha x); x = -inf gives NaN, as x / (1 + e^-alpha x) does.
struct SwishOp512 {
  __m512 alpha;
  METALNN_AVX512_INLINE __m512 operator()(__m512 v) const {
    return _mm512_mul_ps(v, one_over_one_plus(exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(alpha, v)))));
  }
};

// Gelu, the erf form: erfc(|z|) by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7), taken
// as is for negative z so that the tail keeps its relative accuracy.
struct GeluOp512 {
  METALNN_AVX512_INLINE __m512 operator()(__m512 v) const {
    const __m512 z = _mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752f)), az = _mm512_abs_ps(z);
    const __m512 t = one_over_one_plus(_mm512_mul_ps(_mm512_set1_ps(0.3275911f), az));
    __m512 p = _mm512_set1_ps(1.061405429f);
    for (const float c : {-1.453152027f, 1.421413741f, -0.284496736f, 0.254829592f})
      p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(c));
    const __m512 e = exp_avx512(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), az), az));
    const __m512 erfc = _mm512_mul_ps(_mm512_mul_ps(p, t), e);
    const __m512 one_plus_erf = _mm512_mask_sub_ps(erfc, _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_GE_OQ),
                                                   _mm512_set1_ps(2.f), erfc);
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v), one_plus_erf);
  }
};
// Gelu, the tanh approximation: 0.5 x (1 + tanh(y)) = x / (1 + e^-2y).
struct GeluTanhOp512 {
  METALNN_AVX512_INLINE __m512 operator()(__m512 v) const {
    const __m512 v3 = _mm512_mul_ps(_mm512_mul_ps(v, v), v);
    const __m512 inner = _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), v3, v);
    const __m512 y = _mm512_mul_ps(_mm512_set1_ps(0.79788456080286536f), inner);
    return _mm512_mul_ps(v, one_over_one_plus(exp_avx512(_mm512_mul_ps(_mm512_set1_ps(-2.f), y))));
  }
};

// Calls f(op) with the AVX-512 form of `act` where it is not a clamp (kernels apply those as min/max)
// and has one; false, f not called, otherwise.
template <class F>
METALNN_AVX512_INLINE bool with_activation_avx512(const Activation& act, const F& f) {
  using K = Activation::Kind;
  switch (act.kind) {
    case K::LeakyRelu: f(LeakyReluOp512{_mm512_set1_ps(act.alpha)}); return true;
    case K::HardSigmoid: f(HardSigmoidOp512{_mm512_set1_ps(act.alpha), _mm512_set1_ps(act.beta)}); return true;
    case K::HardSwish: f(HardSwishOp512{}); return true;
    case K::Sigmoid: f(SigmoidOp512{}); return true;
    case K::Swish: f(SwishOp512{_mm512_set1_ps(act.alpha)}); return true;
    case K::Gelu: f(GeluOp512{}); return true;
    case K::GeluTanh: f(GeluTanhOp512{}); return true;
    default: return false;
  }
}

// y = op(y) over n floats.
struct MapInPlace {
  float* y;
  int64_t n;
  template <class Op>
  METALNN_AVX512_INLINE void operator()(Op op) const {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, op(_mm512_loadu_ps(y + i)));
    if (i < n) {
      const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1);
      _mm512_mask_storeu_ps(y + i, mask, op(_mm512_maskz_loadu_ps(mask, y + i)));
    }
  }
};

// y = act(y) over n floats where with_activation_avx512 has act; false otherwise.
__attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma"))) inline bool activate_avx512(float* y, int64_t n,
                                                                                       const Activation& act) {
  return with_activation_avx512(act, MapInPlace{y, n});
}

}  // namespace metalnn::cpu
#endif
