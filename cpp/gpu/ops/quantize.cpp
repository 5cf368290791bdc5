// QuantizeLinear / DequantizeLinear (metal/quantize.metal) on the layout of core/ops/quantize.h; an
// absent zero point binds a buffer of zeros shaped like the scale. DynamicQuantizeLinear computes its
// scale and zero point outputs, then quantizes per tensor with them.
#include "gpu/ops/quantize.h"

#include "core/ops/quantize.h"
#include "gpu/ops/common.h"

namespace metalnn::gpu {

std::string quantized_suffix(const Node& n, DType t) {
  switch (t) {
    case DType::Int8: return "i8";
    case DType::UInt8: return "u8";
    case DType::Int32: return "i32";
    default: unsupported(n, "quantized dtype " + dtype_name(t));
  }
}

namespace {

// Lowers one node whose quantized side is value `q` and float side `f`.
void lower_quantize_op(Lowering& L, const Node& n, const char* op, int q, int f) {
  const int x = n.inputs[0], scale = n.inputs[1], y = n.outputs[0];
  const DType qtype = L.value(q).dtype;
  const QuantLayout l = quant_layout(n, L.shape(x), L.shape(scale));
  QuantizeParams p{};
  p.count = u32(n, shape_numel(L.shape(x)));
  if (p.count == 0) return;
  p.axis_len = u32(n, l.axis_len);
  p.inner = u32(n, l.inner);
  p.block = u32(n, l.block);
  p.scale_outer = u32(n, l.scale_outer);
  p.scale_axis = u32(n, l.scale_axis);
  p.scale_inner = u32(n, l.scale_inner);
  p.qmin = qtype == DType::Int8 ? -128 : 0;
  p.qmax = qtype == DType::Int8 ? 127 : 255;
  Dispatch& d = L.dispatch(kernel_name(op, quantized_suffix(n, qtype), L.suffix(f)));
  d.input(0, x).input(1, scale).output(3, y).params(4, p).threads_1d(p.count);
  if (Lowering::has_input(n, 2)) {
    d.input(2, n.inputs[2]);
  } else {
    const std::vector<unsigned char> zeros(size_t(shape_numel(L.shape(scale))) * dtype_size(qtype), 0);
    d.buffer(2, L.upload_bytes(zeros.data(), zeros.size()));
  }
}

}  // namespace

void lower_quantize_linear(Lowering& L, const Node& n) {
  lower_quantize_op(L, n, "quantize_linear", n.outputs[0], n.inputs[0]);
}

void lower_dequantize_linear(Lowering& L, const Node& n) {
  lower_quantize_op(L, n, "dequantize_linear", n.inputs[0], n.outputs[0]);
}

void lower_dynamic_quantize_linear(Lowering& L, const Node& n) {
  const int x = n.inputs[0];
  if (n.outputs.size() < 3 || n.outputs[1] < 0 || n.outputs[2] < 0)
    unsupported(n, "DynamicQuantizeLinear without its scale and zero point outputs");
  QuantizeParams p{};
  p.count = u32(n, shape_numel(L.shape(x)));
  p.axis_len = p.block = 1;
  p.inner = std::max<uint32_t>(p.count, 1);
  p.qmin = 0;
  p.qmax = 255;
  L.dispatch(kernel_name("dynamic_quantize", "params", L.suffix(x)))
      .input(0, x).output(1, n.outputs[1]).output(2, n.outputs[2]).params(3, p).simdgroups_1d(1);
  if (p.count == 0) return;
  L.dispatch(kernel_name("quantize_linear", "u8", L.suffix(x)))
      .input(0, x).input(1, n.outputs[1]).input(2, n.outputs[2]).output(3, n.outputs[0]).params(4, p)
      .threads_1d(p.count);
}

}  // namespace metalnn::gpu
