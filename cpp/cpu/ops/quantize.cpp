// QuantizeLinear / DequantizeLinear kernels on the layout of core/ops/quantize.h. Quantize is
// saturate(round_half_even(x / scale) + zero_point), in ONNX Runtime's order (divide, clamp to the
// range shifted by the zero point, round); the rows sharing one scale run as plain vectorisable loops.
// DynamicQuantizeLinear picks its uint8 scale and zero point from the input's range first.
#include <algorithm>
#include <cstdint>
#include <limits>

#include <type_traits>
#include <vector>

#include "core/ops/quantize.h"
#include "cpu/cpu_features.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"
#include "cpu/simd_avx2.h"

namespace metalnn::cpu {

namespace {

// Rounds half to even for |v| < 2^22 in the default rounding mode (adding 1.5 * 2^23 drops the fraction).
inline float round_half_even(float v) {
  constexpr float kMagic = 12582912.0f;
  return (v + kMagic) - kMagic;
}

template <class Q>
inline Q quantize_value(float x, float scale, int32_t zero_point) {
  const float lo = float(std::numeric_limits<Q>::min() - zero_point);
  const float hi = float(std::numeric_limits<Q>::max() - zero_point);
  float r = x / scale;
  r = r > lo ? r : lo;  // NaN saturates low, as ONNX Runtime's max/min sequence does
  r = r < hi ? r : hi;
  return static_cast<Q>(static_cast<int32_t>(round_half_even(r)) + zero_point);
}

#if defined(METALNN_HAS_AVX2_KERNELS)
// quantize_value on the first multiple of 8 of n elements (vminps/vmaxps keep quantize_value's
// NaN handling: the second operand wins; the conversion rounds half to even); returns the count done.
template <class Q>
METALNN_AVX2 int64_t quantize_avx2(const float* x, int64_t n, float scale, int32_t zero_point, Q* y) {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256 lo = _mm256_set1_ps(float(std::numeric_limits<Q>::min() - zero_point));
  const __m256 hi = _mm256_set1_ps(float(std::numeric_limits<Q>::max() - zero_point));
  const __m256i z = _mm256_set1_epi32(zero_point);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 r = _mm256_min_ps(_mm256_max_ps(_mm256_div_ps(_mm256_loadu_ps(x + i), s), lo), hi);
    const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(r), z);
    const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    const __m128i q8 = std::is_signed_v<Q> ? _mm_packs_epi16(q16, q16) : _mm_packus_epi16(q16, q16);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), q8);
  }
  return i;
}

// Folds x[0, n) into [lo, hi] as the scalar loop does (a NaN never replaces the running bound).
METALNN_AVX2 int64_t min_max_avx2(const float* x, int64_t n, float& lo, float& hi) {
  __m256 l = _mm256_set1_ps(lo), h = _mm256_set1_ps(hi);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    l = _mm256_min_ps(v, l);
    h = _mm256_max_ps(v, h);
  }
  alignas(32) float ls[8], hs[8];
  _mm256_store_ps(ls, l);
  _mm256_store_ps(hs, h);
  for (int j = 0; j < 8; ++j) {
    lo = std::min(lo, ls[j]);
    hi = std::max(hi, hs[j]);
  }
  return i;
}
#endif

// y[i] = quantize_value(x[i]) for i < n.
template <class Q>
void quantize_span(const float* x, int64_t n, float scale, int32_t zero_point, Q* y) {
  int64_t i = 0;
#if defined(METALNN_HAS_AVX2_KERNELS)
  if (has_avx2_fma()) i = quantize_avx2(x, n, scale, zero_point, y);
#endif
  for (; i < n; ++i) y[i] = quantize_value<Q>(x[i], scale, zero_point);
}

// Calls f(first, last, s) on runs of elements [first, last) sharing scale index s: whole row segments
// unless the scale changes along the row (blocked on the last axis).
template <class F>
void for_scale_runs(const QuantLayout& l, int64_t count, ThreadPool& pool, F&& f) {
  pool.parallel_for(count, 1 << 14, [&](int64_t begin, int64_t end) {
    while (begin < end) {
      const int64_t row = begin / l.inner, first = begin % l.inner;
      const int64_t last = std::min(l.inner, first + (end - begin));
      const int64_t o = row / l.axis_len, c = row % l.axis_len, base = row * l.inner;
      if (l.scale_inner == 0) {
        f(base + first, base + last, l.scale_index(o, c, 0));
      } else {
        for (int64_t i = first; i < last; ++i) f(base + i, base + i + 1, l.scale_index(o, c, i));
      }
      begin += last - first;
    }
  });
}

struct QuantizeKernel : Kernel {
  explicit QuantizeKernel(const QuantLayout& layout) : layout_(layout) {}

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const float* x = in[0]->data<float>();
    const float* scale = in[1]->data<float>();
    visit_dtype<DType::Int8, DType::UInt8>(out[0]->dtype(), [&](auto tag) {
      using Q = typename decltype(tag)::type;
      const Q* zp = in.size() > 2 && in[2] ? in[2]->data<Q>() : nullptr;
      Q* y = out[0]->data<Q>();
      for_scale_runs(layout_, out[0]->numel(), pool, [&](int64_t first, int64_t last, int64_t s) {
        const float sc = scale[s];
        const int32_t z = zp ? int32_t(zp[s]) : 0;
        quantize_span(x + first, last - first, sc, z, y + first);
      });
    });
  }
  QuantLayout layout_;
};

struct DequantizeKernel : Kernel {
  explicit DequantizeKernel(const QuantLayout& layout) : layout_(layout) {}

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const float* scale = in[1]->data<float>();
    float* y = out[0]->data<float>();
    visit_dtype<DType::Int8, DType::UInt8, DType::Int32>(in[0]->dtype(), [&](auto tag) {
      using Q = typename decltype(tag)::type;
      const Q* x = in[0]->data<Q>();
      const Q* zp = in.size() > 2 && in[2] ? in[2]->data<Q>() : nullptr;
      for_scale_runs(layout_, out[0]->numel(), pool, [&](int64_t first, int64_t last, int64_t s) {
        const float sc = scale[s];
        const int32_t z = zp ? int32_t(zp[s]) : 0;
        for (int64_t i = first; i < last; ++i) y[i] = float(int32_t(x[i]) - z) * sc;
      });
    });
  }
  QuantLayout layout_;
};

// DynamicQuantizeLinear: the range of x widened to include 0 spread over [0, 255], then a quantize.
void dynamic_quantize(const Node&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
                      ThreadPool& pool) {
  const float* x = in[0]->data<float>();
  const int64_t n = in[0]->numel();
  // The range in chunks on the pool, then folded in order (min and max do not depend on the order).
  constexpr int64_t kChunk = 1 << 14;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<float> chunk_lo(size_t(chunks), 0.0f), chunk_hi(size_t(chunks), 0.0f);
  pool.parallel_for(chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const int64_t first = c * kChunk, count = std::min(kChunk, n - first);
      float l = 0.0f, h = 0.0f;
      int64_t i = 0;
#if defined(METALNN_HAS_AVX2_KERNELS)
      if (has_avx2_fma()) i = min_max_avx2(x + first, count, l, h);
#endif
      for (; i < count; ++i) {
        l = std::min(l, x[first + i]);
        h = std::max(h, x[first + i]);
      }
      chunk_lo[size_t(c)] = l;
      chunk_hi[size_t(c)] = h;
    }
  });
  float lo = 0.0f, hi = 0.0f;
  for (int64_t c = 0; c < chunks; ++c) {
    lo = std::min(lo, chunk_lo[size_t(c)]);
    hi = std::max(hi, chunk_hi[size_t(c)]);
  }
  const float scale = hi == lo ? 1.0f : (hi - lo) / 255.0f;
  const float zero = std::min(255.0f, std::max(0.0f, -lo / scale));
  const int32_t zp = static_cast<int32_t>(round_half_even(zero));
  uint8_t* y = out[0]->data<uint8_t>();
  pool.parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
    quantize_span(x + b, e - b, scale, zp, y + b);
  });
  if (out.size() > 1 && out[1]) *out[1]->data<float>() = scale;
  if (out.size() > 2 && out[2]) *out[2]->data<uint8_t>() = static_cast<uint8_t>(zp);
}

}  // namespace

std::unique_ptr<Kernel> make_dynamic_quantize_linear_kernel(const Graph& g, const Node& n) {
  return stateless_kernel<dynamic_quantize>(g, n);
}

std::unique_ptr<Kernel> make_quantize_linear_kernel(const Graph& g, const Node& n) {
  return std::make_unique<QuantizeKernel>(quant_layout(n, input_value(g, n, 0).shape, input_value(g, n, 1).shape));
}

std::unique_ptr<Kernel> make_dequantize_linear_kernel(const Graph& g, const Node& n) {
  return std::make_unique<DequantizeKernel>(quant_layout(n, input_value(g, n, 0).shape, input_value(g, n, 1).shape));
}

}  // namespace metalnn::cpu
