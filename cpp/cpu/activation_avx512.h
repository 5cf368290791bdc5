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

// Gelu, the erf form: erf(z) = z P(z^2) / Q(z^2), both of degree 5, fitted to erf on [0, 4] and z
// clamped there (erf(4) is 1 within 2e-8): about 3.5e-7 absolute in float, no exp and a third fewer
// operations than an exp-based erfc, which the epilogue of a wide MatMul felt.
struct GeluOp512 {
  METALNN_AVX512_INLINE __m512 operator()(__m512 v) const {
    const __m512 four = _mm512_set1_ps(4.f), one = _mm512_set1_ps(1.f);
    const __m512 z = _mm512_min_ps(four, _mm512_max_ps(_mm512_sub_ps(_mm512_setzero_ps(), four),
                                                      _mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752f))));
    const __m512 z2 = _mm512_mul_ps(z, z);
    __m512 p = _mm512_set1_ps(1.974893166e-06f), q = _mm512_set1_ps(3.748089875e-05f);
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(2.880297543e-04f));
    q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(1.216247096e-03f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(4.003194626e-03f));
    q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(1.544352900e-02f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(5.346610770e-02f));
    q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(1.164721474e-01f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(1.962386370e-01f));
    q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(5.072431564e-01f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(1.128378987e+00f));
    q = _mm512_fmadd_ps(q, z2, one);
    // 1 / q (q in [1, 21]) by a reciprocal estimate and one Newton step.
    __m512 r = _mm512_rcp14_ps(q);
    r = _mm512_fmadd_ps(r, _mm512_fnmadd_ps(q, r, one), r);
    // Clamped to [-1, 1] so that a large negative x gives 0 rather than a rounding's sign.
    const __m512 erf = _mm512_min_ps(one, _mm512_max_ps(_mm512_sub_ps(_mm512_setzero_ps(), one),
                                                         _mm512_mul_ps(_mm512_mul_ps(z, p), r)));
    const __m512 half = _mm512_mul_ps(_mm512_set1_ps(0.5f), v);
    return _mm512_fmadd_ps(half, erf, half);
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
