// The fused quantized ops (QuantizedConv, QuantizedMatMul, QuantizedAdd) that the quantized fusion pass
// makes of DequantizeLinear -> float op -> QuantizeLinear: integer inputs, int32 sums, and one
// requantisation per output shared by every device: v = (sum + bias_sum[c]) * multiplier[c] + bias[c], clamped to
// [lo, hi] (activation and saturation together), then rint (half to even) + the output zero point.
#pragma once
#include <cstdint>
#include <vector>

#include "core/graph.h"

namespace metalnn {

// Input order of QuantizedConv and QuantizedMatMul (QLinearConv's, with a float32 bias last) and of
// QuantizedAdd (a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point).
enum QuantizedInput { kQX = 0, kQXScale, kQXZero, kQW, kQWScale, kQWZero, kQYScale, kQYZero, kQBias };

struct Requantization {
  std::vector<float> multiplier;  // per output channel: x_scale * w_scale[c] / y_scale
  std::vector<float> bias;        // per output channel: bias[c] / y_scale (0 without a bias)
  // Per output channel: the bias in units of the sums (x_scale * w_scale[c]) when it is a whole number
  // of them, as a dequantized int32 bias is; then bias[c] is 0 and v = (sum + bias_sum[c]) * multiplier[c],
  // one rounding, as ONNX Runtime's integer kernels compute it.
  std::vector<int32_t> bias_sum;
  int32_t x_zero = 0, y_zero = 0;
  float lo = 0.f, hi = 0.f;  // bounds of v before rounding: the activation's and the output dtype's
};

// The requantisation of a QuantizedConv / QuantizedMatMul with `channels` output channels (its
// constants already validated by the schema).
Requantization requantization(const Graph& g, const Node& n, int64_t channels);

// QuantizedAdd: v = (a - za) * a_multiplier + (b - zb) * b_multiplier, clamped to [lo, hi].
struct AddRequantization {
  float a_multiplier = 0.f, b_multiplier = 0.f;
  int32_t a_zero = 0, b_zero = 0, y_zero = 0;
  float lo = 0.f, hi = 0.f;
};
AddRequantization add_requantization(const Graph& g, const Node& n);

// The integer value of a per-tensor int8/uint8 constant.
int32_t quantized_scalar(const Tensor& t);

}  // namespace metalnn
