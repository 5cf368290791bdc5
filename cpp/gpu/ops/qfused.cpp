// The fused quantized ops (metal/qfused.metal): the weights bind as the graph's int8 constants; the
// per-channel multipliers and biases of core/ops/qfused.h upload as float32 whatever the precision.
#include "core/ops/qfused.h"

#include "core/ops/window.h"
#include "core/ops/window2d.h"
#include "gpu/ops/common.h"
#include "gpu/ops/quantize.h"

namespace metalnn::gpu {

namespace {

Requantize requantize_params(const Requantization& r) { return {r.x_zero, r.y_zero, r.lo, r.hi}; }

// Binds the weights, multipliers and biases (buffers 1-3, whole-number biases 6) of a QuantizedConv/QuantizedMatMul.
void bind_weights(Lowering& L, Dispatch& d, const Node& n, const Requantization& r) {
  d.buffer(1, L.constant_buffer(n.inputs[kQW]));
  d.buffer(2, L.upload_bytes(r.multiplier.data(), r.multiplier.size() * sizeof(float)));
  d.buffer(3, L.upload_bytes(r.bias.data(), r.bias.size() * sizeof(float)));
  d.buffer(6, L.upload_bytes(r.bias_sum.data(), r.bias_sum.size() * sizeof(int32_t)));
}

// quantized_<op>_<input>_<output>, e.g. quantized_conv_u8_i8.
std::string gemm_kernel(const Lowering& L, const Node& n, const char* op) {
  return kernel_name(op, quantized_suffix(n, L.value(n.inputs[kQX]).dtype), quantized_suffix(n, L.value(n.outputs[0]).dtype));
}

}  // namespace

void lower_quantized_conv(Lowering& L, const Node& n) {
  const Shape& x = L.shape(n.inputs[kQX]);
  const Shape& w = L.shape(n.inputs[kQW]);
  const Window2d win = to_window2d(resolve_window(n, {x[2], x[3]}, {w[2], w[3]}, false));
  const int64_t group = n.attrs.get_int("group", 1);
  const Requantization r = requantization(L.graph(), n, w[0]);
  QuantizedConvParams p{};
  p.count = u32(n, shape_numel(L.shape(n.outputs[0])));
  if (p.count == 0) return;
  p.in_c = u32(n, x[1]);
  p.in_h = u32(n, win.in_h);
  p.in_w = u32(n, win.in_w);
  p.out_c = u32(n, w[0]);
  p.out_h = u32(n, win.out_h);
  p.out_w = u32(n, win.out_w);
  p.kernel_h = u32(n, win.kernel_h);
  p.kernel_w = u32(n, win.kernel_w);
  p.stride_h = u32(n, win.stride_h);
  p.stride_w = u32(n, win.stride_w);
  p.dilation_h = u32(n, win.dilation_h);
  p.dilation_w = u32(n, win.dilation_w);
  p.pad_top = u32(n, win.pad_top);
  p.pad_left = u32(n, win.pad_left);
  p.group_in_c = u32(n, w[1]);
  p.group_out_c = u32(n, w[0] / group);
  p.q = requantize_params(r);
  Dispatch& d = L.dispatch(gemm_kernel(L, n, "quantized_conv"));
  d.input(0, n.inputs[kQX]).output(4, n.outputs[0]).params(5, p).threads_1d(p.count);
  bind_weights(L, d, n, r);
}

void lower_quantized_matmul(Lowering& L, const Node& n) {
  const Shape& w = L.shape(n.inputs[kQW]);
  const Requantization r = requantization(L.graph(), n, w[1]);
  QuantizedMatMulParams p{};
  p.count = u32(n, shape_numel(L.shape(n.outputs[0])));
  if (p.count == 0) return;
  p.n = u32(n, w[1]);
  p.k = u32(n, w[0]);
  p.q = requantize_params(r);
  Dispatch& d = L.dispatch(gemm_kernel(L, n, "quantized_matmul"));
  d.input(0, n.inputs[kQX]).output(4, n.outputs[0]).params(5, p).threads_1d(p.count);
  bind_weights(L, d, n, r);
}

void lower_quantized_add(Lowering& L, const Node& n) {
  const AddRequantization r = add_requantization(L.graph(), n);
  QuantizedAddParams p{};
  p.count = u32(n, shape_numel(L.shape(n.outputs[0])));
  if (p.count == 0) return;
  p.a_zero = r.a_zero;
  p.b_zero = r.b_zero;
  p.a_multiplier = r.a_multiplier;
  p.b_multiplier = r.b_multiplier;
  p.q = {0, r.y_zero, r.lo, r.hi};
  const std::string inputs = quantized_suffix(n, L.value(n.inputs[kQX]).dtype) + "_" +
                             quantized_suffix(n, L.value(n.inputs[kQW]).dtype);
  L.dispatch(kernel_name("quantized_add", inputs, quantized_suffix(n, L.value(n.outputs[0]).dtype)))
      .input(0, n.inputs[kQX]).input(1, n.inputs[kQW]).output(2, n.outputs[0]).params(3, p).threads_1d(p.count);
}

}  // namespace metalnn::gpu
