// QuantizeLinear / DequantizeLinear kernels on the layout of core/ops/quantize.h. Quantize is
// saturate(round_half_even(x / scale) + zero_point), in ONNX Runtime's order (divide, clamp to the
// range shifted by the zero point, round); the rows sharing one scale run as plain vectorisable loops.
// DynamicQuantizeLinear picks its uint8 scale and zero point from the input's range first.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "core/ops/quantize.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"

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
        for (int64_t i = first; i < last; ++i) y[i] = quantize_value<Q>(x[i], sc, z);
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
  float lo = 0.0f, hi = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  const float scale = hi == lo ? 1.0f : (hi - lo) / 255.0f;
  const float zero = std::min(255.0f, std::max(0.0f, -lo / scale));
  const int32_t zp = static_cast<int32_t>(round_half_even(zero));
  uint8_t* y = out[0]->data<uint8_t>();
  pool.parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = quantize_value<uint8_t>(x[i], scale, zp);
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
