#include "cpu/vector_math.h"

#include <algorithm>
#include <cmath>

#include "cpu/cpu_features.h"
#include "cpu/activation_avx512.h"
#include "cpu/simd_avx2.h"

namespace metalnn::cpu {

namespace {

constexpr float kSqrtHalf = 0.70710678118654752f;
constexpr float kSqrtTwoOverPi = 0.79788456080286536f;

float gelu_scalar(float x, bool tanh_form) {
  if (!tanh_form) return 0.5f * x * (1.f + std::erf(x * kSqrtHalf));
  return 0.5f * x * (1.f + std::tanh(kSqrtTwoOverPi * (x + 0.044715f * x * x * x)));
}

#ifdef METALNN_HAS_AVX2_KERNELS
// 1 + erf(z): erfc(|z|) by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7), taken as is
// for negative z so that the tail keeps its relative accuracy.
METALNN_AVX2_INLINE __m256 one_plus_erf8(__m256 z) {
  const __m256 az = _mm256_andnot_ps(_mm256_set1_ps(-0.f), z);
  const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.f), _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), az, _mm256_set1_ps(1.f)));
  __m256 p = _mm256_set1_ps(1.061405429f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
  const __m256 erfc = _mm256_mul_ps(_mm256_mul_ps(p, t), exp_avx2(_mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), az), az)));
  const __m256 positive = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GE_OQ);
  return _mm256_blendv_ps(erfc, _mm256_sub_ps(_mm256_set1_ps(2.f), erfc), positive);
}

METALNN_AVX2_INLINE __m256 gelu8(__m256 x, bool tanh_form) {
  if (!tanh_form)
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), one_plus_erf8(_mm256_mul_ps(x, _mm256_set1_ps(kSqrtHalf))));
  // 0.5 x (1 + tanh(y)) = x / (1 + exp(-2y))
  const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
  const __m256 y = _mm256_mul_ps(_mm256_set1_ps(kSqrtTwoOverPi), _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x3, x));
  const __m256 e = exp_avx2(_mm256_mul_ps(_mm256_set1_ps(-2.f), y));
  return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.f), e));
}

// Applies f to 8 lanes at a time, the tail through masked loads and stores.
template <class F>
METALNN_AVX2_INLINE void map8(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i mask = first_lanes(n - i);
    _mm256_maskstore_ps(y + i, mask, f(_mm256_maskload_ps(x + i, mask)));
  }
}

METALNN_AVX2 float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

METALNN_AVX2 float max_of_avx2(const float* x, int64_t n) {
  if (n < 8) return *std::max_element(x, x + n);
  __m256 m = _mm256_loadu_ps(x);
  int64_t i = 8;
  for (; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, m);
  float r = *std::max_element(lanes, lanes + 8);
  for (; i < n; ++i) r = std::max(r, x[i]);
  return r;
}

METALNN_AVX2 float exp_shifted_sum_avx2(const float* x, float* y, int64_t n, float shift) {
  const __m256 s = _mm256_set1_ps(shift);
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
    _mm256_storeu_ps(y + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  if (i < n) {
    const __m256i mask = first_lanes(n - i);
    // the masked-off lanes read 0, whose exp must not join the sum
    const __m256 e = _mm256_and_ps(_mm256_castsi256_ps(mask), exp_avx2(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), s)));
    _mm256_maskstore_ps(y + i, mask, e);
    acc = _mm256_add_ps(acc, e);
  }
  return hsum8(acc);
}

#define METALNN_VM_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma")))

METALNN_VM_AVX512 float max_of_avx512(const float* x, int64_t n) {
  __m512 m = _mm512_set1_ps(-__builtin_inff());
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(x + i));
  if (i < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
    m = _mm512_mask_max_ps(m, k, m, _mm512_maskz_loadu_ps(k, x + i));
  }
  return _mm512_reduce_max_ps(m);
}

// e^v, but 0 below -87 as exp_avx2 is below -86.6: a masked score then weighs nothing instead of a
// subnormal that slows every product it feeds.
METALNN_AVX512_INLINE __m512 exp_or_zero(__m512 v) {
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, _mm512_set1_ps(-87.f), _CMP_NLT_UQ), exp_avx512(v));
}

METALNN_VM_AVX512 float exp_shifted_sum_avx512(const float* x, float* y, int64_t n, float shift) {
  const __m512 s = _mm512_set1_ps(shift);
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 e = exp_or_zero(_mm512_sub_ps(_mm512_loadu_ps(x + i), s));
    _mm512_storeu_ps(y + i, e);
    acc = _mm512_add_ps(acc, e);
  }
  if (i < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 e = _mm512_maskz_mov_ps(k, exp_or_zero(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), s)));
    _mm512_mask_storeu_ps(y + i, k, e);
    acc = _mm512_add_ps(acc, e);
  }
  return _mm512_reduce_add_ps(acc);
}

// METALNN_SOFTMAX_KERNELS=avx512|avx2|portable caps max_of and exp_shifted_sum (Softmax, attention).
KernelIsa softmax_isa() {
  static const KernelIsa isa = kernel_isa("METALNN_SOFTMAX_KERNELS");
  return isa;
}

// Functors rather than lambdas, which would not inherit the target attribute.
struct ScaleOp {
  __m256 s;
  METALNN_AVX2 __m256 operator()(__m256 v) const { return _mm256_mul_ps(v, s); }
};
template <bool TanhForm>
struct GeluOp {
  __m256 add;
  METALNN_AVX2 __m256 operator()(__m256 v) const { return gelu8(_mm256_add_ps(v, add), TanhForm); }
};

METALNN_AVX2 void scale_avx2(const float* x, float* y, int64_t n, float s) { map8(x, y, n, ScaleOp{_mm256_set1_ps(s)}); }

METALNN_AVX2 void gelu_avx2(const float* x, float* y, int64_t n, bool tanh_form, float add) {
  if (tanh_form) map8(x, y, n, GeluOp<true>{_mm256_set1_ps(add)});
  else map8(x, y, n, GeluOp<false>{_mm256_set1_ps(add)});
}

// Gelu on 16 lanes (cpu/activation_avx512.h), its input shifted by `add`.
template <class Op>
__attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma"))) void gelu_avx512(const float* x, float* y, int64_t n,
                                                                              float add, Op op) {
  const __m512 va = _mm512_set1_ps(add);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, op(_mm512_add_ps(_mm512_loadu_ps(x + i), va)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, op(_mm512_add_ps(_mm512_maskz_loadu_ps(m, x + i), va)));
  }
}

// Adds 8 floats to two 4-lane double accumulators.
METALNN_AVX2_INLINE void add_wide(__m256 v, __m256d& lo, __m256d& hi) {
  lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
  hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

METALNN_AVX2 double hsum4d(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

// Sum of x[i] (Square: of (x[i] - mean)^2), the tail through a masked load of zeros.
template <bool Square>
METALNN_AVX2 double wide_sum_avx2(const float* x, int64_t n, float mean) {
  const __m256 m = _mm256_set1_ps(mean);
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    if (Square) {
      v = _mm256_sub_ps(v, m);
      v = _mm256_mul_ps(v, v);
    }
    add_wide(v, lo, hi);
  }
  if (i < n) {
    const __m256i mask = first_lanes(n - i);
    __m256 v = _mm256_maskload_ps(x + i, mask);
    if (Square) {  // the masked-off lanes must stay 0, not (0 - mean)^2
      v = _mm256_and_ps(_mm256_castsi256_ps(mask), _mm256_sub_ps(v, m));
      v = _mm256_mul_ps(v, v);
    }
    add_wide(v, lo, hi);
  }
  return hsum4d(_mm256_add_pd(lo, hi));
}

METALNN_AVX2 void normalize_avx2(const float* x, float* y, int64_t n, float mean, float inv, const float* scale,
                                 const float* bias) {
  const __m256 m = _mm256_set1_ps(mean), s = _mm256_set1_ps(inv);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 c = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m), s);
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(c, _mm256_loadu_ps(scale + i), _mm256_loadu_ps(bias + i)));
  }
  for (; i < n; ++i) y[i] = (x[i] - mean) * inv * scale[i] + bias[i];
}
#endif

}  // namespace

double sum_of(const float* x, int64_t n) {
#ifdef METALNN_HAS_AVX2_KERNELS
  if (has_avx2_fma()) return wide_sum_avx2<false>(x, n, 0.f);
#endif
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  return sum;
}

double centered_square_sum(const float* x, int64_t n, float mean) {
#ifdef METALNN_HAS_AVX2_KERNELS
  if (has_avx2_fma()) return wide_sum_avx2<true>(x, n, mean);
#endif
  double sq = 0;
  for (int64_t i = 0; i < n; ++i) sq += double(x[i] - mean) * (x[i] - mean);
  return sq;
}

void normalize(const float* x, float* y, int64_t n, float mean, float inv, const float* scale, const float* bias) {
#ifdef METALNN_HAS_AVX2_KERNELS
  if (has_avx2_fma()) return normalize_avx2(x, y, n, mean, inv, scale, bias);
#endif
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * inv * scale[i] + bias[i];
}

float max_of(const float* x, int64_t n) {
#ifdef METALNN_HAS_AVX2_KERNELS
  if (softmax_isa() == KernelIsa::Avx512) return max_of_avx512(x, n);
  if (softmax_isa() == KernelIsa::Avx2) return max_of_avx2(x, n);
#endif
  return *std::max_element(x, x + n);
}

float exp_shifted_sum(const float* x, float* y, int64_t n, float shift) {
#ifdef METALNN_HAS_AVX2_KERNELS
  if (softmax_isa() == KernelIsa::Avx512) return exp_shifted_sum_avx512(x, y, n, shift);
  if (softmax_isa() == KernelIsa::Avx2) return exp_shifted_sum_avx2(x, y, n, shift);
#endif
  float sum = 0.f;
  for (int64_t i = 0; i < n; ++i) sum += (y[i] = std::exp(x[i] - shift));
  return sum;
}

void scale(const float* x, float* y, int64_t n, float s) {
#ifdef METALNN_HAS_AVX2_KERNELS
  if (has_avx2_fma()) return scale_avx2(x, y, n, s);
#endif
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s;
}

void gelu(const float* x, float* y, int64_t n, bool tanh_form, float add) {
#ifdef METALNN_HAS_AVX2_KERNELS
  static const KernelIsa isa = kernel_isa("METALNN_GELU_KERNELS");
  if (isa == KernelIsa::Avx512)
    return tanh_form ? gelu_avx512(x, y, n, add, GeluTanhOp512{}) : gelu_avx512(x, y, n, add, GeluOp512{});
  if (isa == KernelIsa::Avx2) return gelu_avx2(x, y, n, tanh_form, add);
#endif
  for (int64_t i = 0; i < n; ++i) y[i] = gelu_scalar(x[i] + add, tanh_form);
}

}  // namespace metalnn::cpu
