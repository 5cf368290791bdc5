// Schemas of the fused quantized ops (see qfused.h). They come only from the quantized fusion pass,
// which checks the pattern; these checks keep a hand-built or corrupt graph from reaching a kernel:
// int8/uint8 data, constant per-tensor activation parameters, constant int8 weights with zero zero
// points and a scale per tensor or per output channel, and at most a Relu or Clip fused in.
#include "core/ops/qfused.h"

#include <cmath>
#include <limits>

#include "core/activation.h"
#include "core/ops/tensor_checks.h"
#include "core/ops/window.h"

namespace metalnn {

namespace {

bool is_quantized(DType t) { return t == DType::Int8 || t == DType::UInt8; }

// Input i is a constant float32 scale with one value or `channels` values.
const Tensor& require_scale(const InferContext& ctx, int i, int64_t channels) {
  const Tensor& s = ctx.require_constant(i, "scale");
  if (s.dtype() != DType::Float32 || (s.numel() != 1 && s.numel() != channels))
    ctx.fail_shape("scale '" + ctx.input(i).name + "' " + shape_str(s.shape()) + " " + dtype_name(s.dtype()) +
                   ": expected float32 with 1 or " + std::to_string(channels) + " values");
  for (int64_t c = 0; c < s.numel(); ++c)
    if (!(s.data<float>()[c] > 0.f) || !std::isfinite(s.data<float>()[c]))
      ctx.fail_model("scale '" + ctx.input(i).name + "' holds " + std::to_string(s.data<float>()[c]) +
                     ", expected a positive finite value");
  return s;
}

// Input i is a constant zero point of `dtype` with one value or `channels` values.
const Tensor& require_zero_point(const InferContext& ctx, int i, DType dtype, int64_t channels) {
  const Tensor& z = ctx.require_constant(i, "zero point");
  if (z.dtype() != dtype || (z.numel() != 1 && z.numel() != channels))
    ctx.fail_shape("zero point '" + ctx.input(i).name + "' " + shape_str(z.shape()) + " " + dtype_name(z.dtype()) +
                   ": expected " + dtype_name(dtype) + " with 1 or " + std::to_string(channels) + " values");
  return z;
}

// Activation input i: int8/uint8 with per-tensor constant scale (i + 1) and zero point (i + 2).
void check_quantized_activation(const InferContext& ctx, int i) {
  if (!is_quantized(ctx.input_dtype(i)))
    ctx.fail_dtype("input '" + ctx.input(i).name + "' is " + dtype_name(ctx.input_dtype(i)) + ", expected int8 or uint8");
  require_scale(ctx, i + 1, 1);
  require_zero_point(ctx, i + 2, ctx.input_dtype(i), 1);
}

// The weight: a constant int8 tensor with per-tensor or per-channel scale and all-zero zero points.
void check_weight(const InferContext& ctx, int64_t channels) {
  const Tensor& w = ctx.require_constant(kQW, "weight");
  if (w.dtype() != DType::Int8) ctx.fail_dtype("weight '" + ctx.input(kQW).name + "' is " + dtype_name(w.dtype()) + ", expected int8");
  require_scale(ctx, kQWScale, channels);
  const Tensor& z = require_zero_point(ctx, kQWZero, DType::Int8, channels);
  for (int64_t c = 0; c < z.numel(); ++c)
    if (z.data<int8_t>()[c] != 0) ctx.fail_unsupported("weight zero point '" + ctx.input(kQWZero).name + "' is not 0");
}

// Output dtype from the output zero point; bias (optional) float32 [channels]; Relu or Clip only.
DType check_output_and_bias(const InferContext& ctx, int64_t channels, bool has_bias) {
  require_scale(ctx, kQYScale, 1);
  const DType out = ctx.input_dtype(kQYZero);
  if (!is_quantized(out)) ctx.fail_dtype("output zero point is " + dtype_name(out) + ", expected int8 or uint8");
  require_zero_point(ctx, kQYZero, out, 1);
  if (has_bias && ctx.has_input(kQBias)) {
    const Tensor& b = ctx.require_constant(kQBias, "bias");
    if (b.dtype() != DType::Float32 || b.numel() != channels)
      ctx.fail_shape("bias '" + ctx.input(kQBias).name + "' " + shape_str(b.shape()) + ": expected float32 with " +
                     std::to_string(channels) + " values");
  }
  const Activation act = Activation::of_node(ctx.node());
  if (!act.none() && act.kind != Activation::Kind::Relu && act.kind != Activation::Kind::Clip)
    ctx.fail_unsupported("fused activation " + ctx.attrs().get_string("_activation", "") + " (only Relu and Clip)");
  return out;
}

}  // namespace

int32_t quantized_scalar(const Tensor& t) {
  return t.dtype() == DType::Int8 ? int32_t(t.data<int8_t>()[0]) : int32_t(t.data<uint8_t>()[0]);
}

namespace {

// [lo, hi] of v = y / y_scale: the fused activation's bounds and the output dtype's range.
void output_bounds(const Node& n, const Tensor& y_zero, float y_scale, int32_t zy, float& lo, float& hi) {
  const bool s8 = y_zero.dtype() == DType::Int8;
  lo = float((s8 ? -128 : 0) - zy);
  hi = float((s8 ? 127 : 255) - zy);
  const Activation act = Activation::of_node(n);
  if (act.kind == Activation::Kind::Relu) lo = std::max(lo, 0.f);
  if (act.kind == Activation::Kind::Clip) {
    lo = std::max(lo, act.alpha / y_scale);
    hi = std::min(hi, act.beta / y_scale);
  }
}

}  // namespace

Requantization requantization(const Graph& g, const Node& n, int64_t channels) {
  Requantization r;
  const float sx = g.value(n.inputs[kQXScale]).constant.data<float>()[0];
  const float sy = g.value(n.inputs[kQYScale]).constant.data<float>()[0];
  const Tensor& sw = g.value(n.inputs[kQWScale]).constant;
  const Tensor& zy = g.value(n.inputs[kQYZero]).constant;
  const bool has_bias = n.inputs.size() > kQBias && n.inputs[kQBias] >= 0;
  r.x_zero = quantized_scalar(g.value(n.inputs[kQXZero]).constant);
  r.y_zero = quantized_scalar(zy);
  r.multiplier.resize(size_t(channels));
  r.bias.assign(size_t(channels), 0.f);
  r.bias_sum.assign(size_t(channels), 0);
  for (int64_t c = 0; c < channels; ++c) {
    const float scale = sw.data<float>()[sw.numel() == 1 ? 0 : c];
    // In float, product then quotient, as ONNX Runtime's QLinearConv forms it (a multiplier one ulp
    // away moves the rare value that lies on a rounding boundary by a step).
    r.multiplier[size_t(c)] = (sx * scale) / sy;
    if (!has_bias) continue;
    const float bias = g.value(n.inputs[kQBias]).constant.data<float>()[c];
    // A dequantized int32 bias is exactly int * (x_scale * w_scale) in float32: add the int to the sums.
    const float unit = sx * scale;
    const double whole = unit != 0.f ? std::nearbyint(double(bias) / double(unit)) : 0.0;
    if (std::abs(whole) < 2147483647.0 && float(whole) * unit == bias) {
      r.bias_sum[size_t(c)] = int32_t(whole);
    } else {
      r.bias[size_t(c)] = bias / sy;
    }
  }
  output_bounds(n, zy, sy, r.y_zero, r.lo, r.hi);
  return r;
}

AddRequantization add_requantization(const Graph& g, const Node& n) {
  AddRequantization r;
  auto scalar = [&](int i) { return g.value(n.inputs[i]).constant.data<float>()[0]; };
  const float sy = scalar(kQYScale);
  r.a_multiplier = scalar(kQXScale) / sy;
  r.b_multiplier = scalar(kQWScale) / sy;
  r.a_zero = quantized_scalar(g.value(n.inputs[kQXZero]).constant);
  r.b_zero = quantized_scalar(g.value(n.inputs[kQWZero]).constant);
  r.y_zero = quantized_scalar(g.value(n.inputs[kQYZero]).constant);
  output_bounds(n, g.value(n.inputs[kQYZero]).constant, sy, r.y_zero, r.lo, r.hi);
  return r;
}

void infer_quantized_conv(InferContext& ctx) {
  ctx.check_inputs(8, 9);
  check_quantized_activation(ctx, kQX);
  const Shape& x = ctx.input_shape(kQX);
  const Shape& w = ctx.input_shape(kQW);
  if (x.size() != 4 || w.size() != 4)
    ctx.fail_shape("input " + shape_str(x) + " and weight " + shape_str(w) + ": expected 4 dims each (2-D convolution)");
  const int64_t group = ctx.attrs().get_int("group", 1);
  if (group < 1 || x[1] % group != 0 || w[1] * group != x[1] || w[0] < 1 || w[0] % group != 0)
    ctx.fail_shape("weight " + shape_str(w) + " does not fit input " + shape_str(x) + " in " + std::to_string(group) +
                   " groups");
  check_weight(ctx, w[0]);
  const DType out = check_output_and_bias(ctx, w[0], true);
  Window win = resolve_window(ctx.node(), {x[2], x[3]}, {w[2], w[3]}, false);
  ctx.set_output(0, out, {x[0], w[0], win.out[0], win.out[1]});
}

void infer_quantized_matmul(InferContext& ctx) {
  ctx.check_inputs(8, 9);
  check_quantized_activation(ctx, kQX);
  const Shape& a = ctx.input_shape(kQX);
  const Shape& b = ctx.input_shape(kQW);
  if (a.empty() || b.size() != 2 || a.back() != b[0])
    ctx.fail_shape("input " + shape_str(a) + " and weight " + shape_str(b) + ": expected [..., K] and [K, N]");
  check_weight(ctx, b[1]);
  const DType out = check_output_and_bias(ctx, b[1], true);
  Shape y = a;
  y.back() = b[1];
  ctx.set_output(0, out, y);
}

void infer_quantized_add(InferContext& ctx) {
  ctx.check_inputs(8, 8);
  check_quantized_activation(ctx, kQX);
  check_quantized_activation(ctx, kQW);
  if (ctx.input_shape(kQX) != ctx.input_shape(kQW))
    ctx.fail_shape("inputs " + shape_str(ctx.input_shape(kQX)) + " and " + shape_str(ctx.input_shape(kQW)) +
                   " differ (no broadcasting)");
  const DType out = check_output_and_bias(ctx, 1, false);
  ctx.set_output(0, out, ctx.input_shape(kQX));
}

}  // namespace metalnn
