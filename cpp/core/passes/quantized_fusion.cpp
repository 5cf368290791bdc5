// DequantizeLinear -> Conv / MatMul / Gemm / Add -> [Relu | Clip] -> QuantizeLinear becomes one fused
// integer op (core/ops/qfused.h): the int8 weights stay int8, the sums are int32 and the
// requantisation runs in the kernel's epilogue. Anything outside the pattern (a non-constant or
// non-int8 weight, a weight zero point other than 0, blocked scales, another activation, a
// broadcasting Add) is left as dequantize -> float op -> quantize.
#include <algorithm>

#include "core/activation.h"
#include "core/ops/qfused.h"
#include "core/passes/passes.h"
#include "core/passes/pattern.h"

namespace metalnn {

namespace {

bool is_quantized(DType t) { return t == DType::Int8 || t == DType::UInt8; }

// The quantized side of a DequantizeLinear (or QuantizeLinear) node: data, scale, zero point (-1
// when absent) and the resolved axis.
struct QuantParams {
  int data = -1, scale = -1, zero = -1;
  int64_t axis = 0;
  int64_t count = 0;  // number of scales
};

// The parameters of node `n` when its scale and zero point are constants and not blocked.
bool constant_params(const Graph& g, const Node& n, int data, QuantParams& q) {
  if (n.inputs.size() < 2 || n.attrs.get_int("block_size", 0) != 0) return false;
  const Value& s = g.value(n.inputs[1]);
  if (!s.is_constant() || s.dtype != DType::Float32) return false;
  q.data = data;
  q.scale = n.inputs[1];
  q.count = s.constant.numel();
  if (n.inputs.size() > 2 && n.inputs[2] >= 0) {
    if (!g.value(n.inputs[2]).is_constant()) return false;
    q.zero = n.inputs[2];
  }
  const int64_t rank = static_cast<int64_t>(g.value(data).shape.size());
  q.axis = n.attrs.get_int("axis", 1);
  if (q.axis < 0) q.axis += rank;
  return true;
}

// The DequantizeLinear producing `value`, when it reads an int8/uint8 tensor with constant parameters.
bool dequantized(const Graph& g, const std::vector<int>& producer, int value, QuantParams& q) {
  if (value < 0 || producer[value] < 0) return false;
  const Node& dq = g.nodes()[producer[value]];
  if (dq.op_type != "DequantizeLinear" || dq.inputs.empty()) return false;
  return is_quantized(g.value(dq.inputs[0]).dtype) && constant_params(g, dq, dq.inputs[0], q);
}

// A per-tensor zero point value of `dtype`: the given one, or a new constant 0.
int zero_point(Graph& g, const QuantParams& q, DType dtype, const std::string& base) {
  if (q.zero >= 0) return q.zero;
  Tensor z = Tensor::empty(dtype, {});
  std::fill_n(static_cast<uint8_t*>(z.raw()), 1, uint8_t{0});
  return g.add_constant(g.unique_name(base + ".zero_point"), std::move(z));
}

// An activation input: per tensor.
bool per_tensor(const Graph& g, const QuantParams& q) {
  return q.count == 1 && (q.zero < 0 || g.value(q.zero).constant.numel() == 1);
}

// A weight input: constant int8, zero points all 0, one scale or one per channel along `axis`.
bool int8_weight(const Graph& g, const QuantParams& q, int64_t axis, int64_t channels) {
  const Value& w = g.value(q.data);
  if (!w.is_constant() || w.dtype != DType::Int8) return false;
  if (q.count != 1 && (q.count != channels || q.axis != axis)) return false;
  if (q.zero >= 0) {
    const Tensor& z = g.value(q.zero).constant;
    if (z.dtype() != DType::Int8 || z.numel() != q.count) return false;
    for (int64_t i = 0; i < z.numel(); ++i)
      if (z.data<int8_t>()[i] != 0) return false;
  }
  return true;
}

// A constant int8 zero-point tensor shaped like the weight's scale.
int weight_zero_point(Graph& g, const QuantParams& q, const std::string& base) {
  Tensor z = Tensor::empty(DType::Int8, {q.count});
  std::fill_n(z.data<int8_t>(), q.count, int8_t{0});
  return g.add_constant(g.unique_name(base + ".weight_zero_point"), std::move(z));
}

// A float32 bias of `channels` values from constant `value` (absent: -1), times `beta`; false
// when the value is not such a constant.
bool constant_bias(Graph& g, int value, int64_t channels, float beta, const std::string& base, int& out) {
  out = -1;
  if (value < 0) return true;
  const Value& b = g.value(value);
  if (!b.is_constant() || b.dtype != DType::Float32) return false;
  const int64_t n = b.constant.numel();
  if (n != channels && n != 1) return false;
  if (n == channels && beta == 1.f && b.shape.size() == 1) {
    out = value;
    return true;
  }
  Tensor t = Tensor::empty(DType::Float32, {channels});
  for (int64_t c = 0; c < channels; ++c) t.data<float>()[c] = beta * b.constant.data<float>()[n == 1 ? 0 : c];
  out = g.add_constant(g.unique_name(base + ".bias"), std::move(t));
  return true;
}

struct Fusion {
  Node node;
  bool ok = false;
};

// The fused node for `p` (Conv, MatMul, Gemm or Add) whose result `q` quantizes, or ok = false.
Fusion fuse(Graph& g, const std::vector<int>& producer, const Node& p, const QuantParams& y, DType y_type,
            const Activation& act) {
  Fusion f;
  Node& n = f.node;
  n.name = p.name;
  n.attrs = p.attrs;
  QuantParams x, w;
  if (p.inputs.size() < 2 || !dequantized(g, producer, p.inputs[0], x) || !per_tensor(g, x)) return f;
  if (!dequantized(g, producer, p.inputs[1], w)) return f;
  const DType x_type = g.value(x.data).dtype;
  const int y_zero = zero_point(g, y, y_type, p.name + ".output");
  auto input = [&](int i) { return i < int(p.inputs.size()) ? p.inputs[i] : -1; };

  if (p.op_type == "Add") {
    if (p.inputs.size() != 2 || !per_tensor(g, w)) return f;
    if (g.value(x.data).shape != g.value(w.data).shape || g.value(x.data).shape != g.value(p.outputs[0]).shape) return f;
    n.op_type = "QuantizedAdd";
    n.inputs = {x.data, x.scale, zero_point(g, x, x_type, p.name + ".a"),
                w.data, w.scale, zero_point(g, w, g.value(w.data).dtype, p.name + ".b"),
                y.scale, y_zero};
  } else if (p.op_type == "Conv" || p.op_type == "MatMul") {
    // Conv weights [M, C/g, kh, kw] with output channels on axis 0; MatMul weights [K, N] on axis 1.
    const bool conv = p.op_type == "Conv";
    const Shape& ws = g.value(w.data).shape;
    const size_t rank = conv ? 4 : 2;
    const size_t x_rank = g.value(x.data).shape.size();
    if (ws.size() != rank || (conv ? x_rank != 4 : x_rank == 0)) return f;
    const int64_t channels = ws[conv ? 0 : 1];
    int bias = -1;
    if (!int8_weight(g, w, conv ? 0 : 1, channels) || !constant_bias(g, input(2), channels, 1.f, p.name, bias)) return f;
    n.op_type = conv ? "QuantizedConv" : "QuantizedMatMul";
    n.inputs = {x.data, x.scale, zero_point(g, x, x_type, p.name + ".input"),
                w.data, w.scale, weight_zero_point(g, w, p.name), y.scale, y_zero, bias};
  } else if (p.op_type == "Gemm") {
    const Shape& ws = g.value(w.data).shape;
    const bool trans_b = p.attrs.get_int("transB", 0) != 0;
    if (p.attrs.get_int("transA", 0) != 0 || ws.size() != 2 || g.value(x.data).shape.size() != 2) return f;
    const int64_t k = trans_b ? ws[1] : ws[0], channels = trans_b ? ws[0] : ws[1];
    if (!int8_weight(g, w, trans_b ? 0 : 1, channels)) return f;
    const float alpha = p.attrs.get_float("alpha", 1.f), beta = p.attrs.get_float("beta", 1.f);
    if (!(alpha > 0.f)) return f;
    int bias = -1;
    if (!constant_bias(g, input(2), channels, beta, p.name, bias)) return f;
    int weight = w.data;
    if (trans_b) {  // to [K, N]
      const Tensor& src = g.value(w.data).constant;
      Tensor t = Tensor::empty(DType::Int8, {k, channels});
      for (int64_t r = 0; r < k; ++r)
        for (int64_t c = 0; c < channels; ++c) t.data<int8_t>()[r * channels + c] = src.data<int8_t>()[c * k + r];
      weight = g.add_constant(g.unique_name(p.name + ".weight"), std::move(t));
    }
    int scale = w.scale;
    if (alpha != 1.f) {
      const Tensor& src = g.value(w.scale).constant;
      Tensor t = Tensor::empty(DType::Float32, src.shape());
      for (int64_t i = 0; i < src.numel(); ++i) t.data<float>()[i] = alpha * src.data<float>()[i];
      scale = g.add_constant(g.unique_name(p.name + ".weight_scale"), std::move(t));
    }
    n.op_type = "QuantizedMatMul";
    n.attrs = Attributes();
    n.inputs = {x.data, x.scale, zero_point(g, x, x_type, p.name + ".input"),
                weight, scale, weight_zero_point(g, w, p.name), y.scale, y_zero, bias};
  } else {
    return f;
  }
  n.attrs.erase("_activation");
  n.attrs.erase("_activation_alpha");
  n.attrs.erase("_activation_beta");
  if (!act.none()) act.store(n);
  f.ok = true;
  return f;
}

}  // namespace

void fuse_quantized(Graph& g) {
  std::vector<int> uses = g.use_counts();
  std::vector<int> producer = g.producers();
  std::vector<char> dead(g.nodes().size(), 0);
  for (size_t qi = 0; qi < g.nodes().size(); ++qi) {
    if (g.nodes()[qi].op_type != "QuantizeLinear" || dead[qi]) continue;
    const Node q = g.nodes()[qi];
    QuantParams y;
    const DType y_type = g.value(q.outputs[0]).dtype;
    if (!is_quantized(y_type) || !constant_params(g, q, q.outputs[0], y) || !per_tensor(g, y)) continue;
    int v = q.inputs[0];
    if (!mergeable_edge(g, uses, v) || producer[v] < 0) continue;
    int pi = producer[v], act_index = -1;
    Activation act = Activation::of_node(g.nodes()[pi]);
    if (act.none()) {
      const Activation standalone = Activation::from_activation_node(g, g.nodes()[pi]);
      const int inner = g.nodes()[pi].inputs.empty() ? -1 : g.nodes()[pi].inputs[0];
      if (!standalone.none() && mergeable_edge(g, uses, inner) && producer[inner] >= 0 &&
          Activation::of_node(g.nodes()[producer[inner]]).none()) {
        act_index = pi;
        act = standalone;
        pi = producer[inner];
      }
    }
    if (dead[pi] || (act.kind != Activation::Kind::None && act.kind != Activation::Kind::Relu &&
                     act.kind != Activation::Kind::Clip))
      continue;
    Fusion f = fuse(g, producer, g.nodes()[pi], y, y_type, act);
    if (!f.ok) continue;
    f.node.outputs = q.outputs;
    g.nodes()[pi] = std::move(f.node);
    dead[qi] = 1;
    if (act_index >= 0) dead[act_index] = 1;
  }
  erase_nodes(g, dead);
}

}  // namespace metalnn
