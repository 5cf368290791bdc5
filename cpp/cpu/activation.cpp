#include "cpu/activation.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "cpu/cpu_features.h"
#include "cpu/simd_avx2.h"
#include "cpu/vector_math.h"


namespace metalnn::cpu {

namespace {

// out[i] = act(in[i] + add), one element at a time.
void activate_scalar(const float* in, float* out, int64_t n, float add, const Activation& act) {
  const float a = act.alpha, b = act.beta;
  auto map = [&](auto f) {
    for (int64_t i = 0; i < n; ++i) out[i] = f(in[i] + add);
  };
  switch (act.kind) {
    case Activation::Kind::None: map([](float v) { return v; }); break;
    case Activation::Kind::Relu: map([](float v) { return v < 0.f ? 0.f : v; }); break;
    case Activation::Kind::LeakyRelu: map([a](float v) { return v >= 0.f ? v : v * a; }); break;
    case Activation::Kind::Clip: map([a, b](float v) { return std::min(std::max(v, a), b); }); break;
    case Activation::Kind::Sigmoid: map([](float v) { return 1.f / (1.f + std::exp(-v)); }); break;
    case Activation::Kind::HardSigmoid: map([a, b](float v) { return std::min(1.f, std::max(0.f, a * v + b)); }); break;
    case Activation::Kind::HardSwish:
      map([](float v) { return v * std::min(1.f, std::max(0.f, v / 6.f + 0.5f)); });
      break;
    case Activation::Kind::Tanh: map([](float v) { return std::tanh(v); }); break;
    case Activation::Kind::Swish: map([a](float v) { return v / (1.f + std::exp(-a * v)); }); break;
    case Activation::Kind::Gelu:
    case Activation::Kind::GeluTanh: gelu(in, out, n, act.kind == Activation::Kind::GeluTanh, add); break;
  }
}

#ifdef METALNN_HAS_AVX2_KERNELS
// The activations on 8 lanes; the functors carry the target attribute because
// lambdas would not inherit it.
struct ClampOp {
  __m256 lo, hi;
  METALNN_AVX2 __m256 operator()(__m256 v) const { return _mm256_min_ps(hi, _mm256_max_ps(lo, v)); }  // NaN passes through
};
struct LeakyReluOp {
  __m256 slope;
  METALNN_AVX2 __m256 operator()(__m256 v) const {
    const __m256 negative = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
    return _mm256_blendv_ps(v, _mm256_mul_ps(v, slope), negative);
  }
};
struct HardSigmoidOp {
  __m256 a, b;
  METALNN_AVX2 __m256 operator()(__m256 v) const {
    return _mm256_min_ps(_mm256_set1_ps(1.f), _mm256_max_ps(_mm256_setzero_ps(), _mm256_fmadd_ps(a, v, b)));
  }
};
struct HardSwishOp {
  METALNN_AVX2 __m256 operator()(__m256 v) const {
    const __m256 gate = HardSigmoidOp{_mm256_set1_ps(1.f / 6.f), _mm256_set1_ps(0.5f)}(v);
    return _mm256_mul_ps(v, gate);
  }
};

// The exp-based activations, as 1 / (1 + e^-x) so that an infinite e^-x gives 0 (and NaN in Swish
// at x = -inf, as the scalar form and ONNX Runtime give).
struct SigmoidOp {
  METALNN_AVX2 __m256 operator()(__m256 v) const {
    const __m256 one = _mm256_set1_ps(1.f);
    return _mm256_div_ps(one, _mm256_add_ps(one, exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), v))));
  }
};
struct SwishOp {
  __m256 alpha;
  METALNN_AVX2 __m256 operator()(__m256 v) const {
    const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(alpha, v)));
    return _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.f), e));
  }
};
// tanh as 1 - 2 / (e^2|x| + 1) where that loses nothing (|x| >= 0.625), an odd polynomial below.
struct TanhOp {
  METALNN_AVX2 __m256 operator()(__m256 v) const {
    const __m256 sign = _mm256_set1_ps(-0.f), one = _mm256_set1_ps(1.f);
    const __m256 a = _mm256_andnot_ps(sign, v);
    const __m256 e = exp_avx2(_mm256_add_ps(a, a));
    const __m256 large = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.f), _mm256_add_ps(e, one)));
    const __m256 z = _mm256_mul_ps(v, v);
    __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
    const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), v, v);
    const __m256 signed_large = _mm256_or_ps(large, _mm256_and_ps(sign, v));
    // NaN fails the compare and takes the polynomial, which keeps it NaN.
    return _mm256_blendv_ps(small, signed_large, _mm256_cmp_ps(a, _mm256_set1_ps(0.625f), _CMP_GE_OQ));
  }
};

template <class Op>
METALNN_AVX2 void map_avx2(const float* in, float* out, int64_t n, float add, Op op) {
  const __m256 va = _mm256_set1_ps(add);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, op(_mm256_add_ps(_mm256_loadu_ps(in + i), va)));
  if (i < n) {
    const __m256i mask = first_lanes(n - i);
    _mm256_maskstore_ps(out + i, mask, op(_mm256_add_ps(_mm256_maskload_ps(in + i, mask), va)));
  }
}

// False for the activations left to the scalar path.
METALNN_AVX2 bool activate_avx2(const float* in, float* out, int64_t n, float add, const Activation& act) {
  float lo, hi;
  if (activation_as_clamp(act, lo, hi)) {
    map_avx2(in, out, n, add, ClampOp{_mm256_set1_ps(lo), _mm256_set1_ps(hi)});
  } else if (act.kind == Activation::Kind::LeakyRelu) {
    map_avx2(in, out, n, add, LeakyReluOp{_mm256_set1_ps(act.alpha)});
  } else if (act.kind == Activation::Kind::HardSigmoid) {
    map_avx2(in, out, n, add, HardSigmoidOp{_mm256_set1_ps(act.alpha), _mm256_set1_ps(act.beta)});
  } else if (act.kind == Activation::Kind::HardSwish) {
    map_avx2(in, out, n, add, HardSwishOp{});
  } else if (act.kind == Activation::Kind::Sigmoid) {
    map_avx2(in, out, n, add, SigmoidOp{});
  } else if (act.kind == Activation::Kind::Swish) {
    map_avx2(in, out, n, add, SwishOp{_mm256_set1_ps(act.alpha)});
  } else if (act.kind == Activation::Kind::Tanh) {
    map_avx2(in, out, n, add, TanhOp{});
  } else {
    return false;
  }
  return true;
}
#endif

void activate(const float* in, float* out, int64_t n, float add, const Activation& act) {
#ifdef METALNN_HAS_AVX2_KERNELS
  if (has_avx2_fma() && activate_avx2(in, out, n, add, act)) return;
#endif
  activate_scalar(in, out, n, add, act);
}

}  // namespace

bool activation_as_clamp(const Activation& act, float& lo, float& hi) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  switch (act.kind) {
    case Activation::Kind::None: lo = -inf, hi = inf; return true;
    case Activation::Kind::Relu: lo = 0.f, hi = inf; return true;
    case Activation::Kind::Clip: lo = act.alpha, hi = act.beta; return true;
    default: lo = -inf, hi = inf; return false;
  }
}

void apply_activation(float* x, int64_t n, const Activation& act) {
  if (!act.none()) activate(x, x, n, 0.f, act);
}

void apply_activation(const float* in, float* out, int64_t n, const Activation& act) {
  if (act.none()) {
    if (in != out) std::copy(in, in + n, out);
    return;
  }
  activate(in, out, n, 0.f, act);
}

void add_activation(float* x, int64_t n, float add, const Activation& act) {
  if (add != 0.f || !act.none()) activate(x, x, n, add, act);
}

}  // namespace metalnn::cpu
