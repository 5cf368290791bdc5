// Unary math and activations, broadcasting binary ops (Min/Max/Sum/Mean variadic as a chain), comparisons
// and Where (metal/elementwise.metal).
#include <cmath>

#include "core/activation.h"
#include "gpu/ops/common.h"

namespace metalnn::gpu {

namespace {

BroadcastParams broadcast_params(const Lowering& L, const Node& n, const std::vector<int>& inputs, const Shape& out) {
  BroadcastParams p{};
  // Rank 0 outputs run as shape [1].
  const Shape shape = out.empty() ? Shape{1} : out;
  p.rank = uint32_t(shape.size());
  p.count = u32(n, shape_numel(shape));
  fill_array(n, p.shape, shape);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Shape& in = L.shape(inputs[i]);
    fill_array(n, p.strides[i], broadcast_strides(in, shape));
  }
  return p;
}

bool is_integer(DType t) { return t == DType::Int64 || t == DType::Int32; }

}  // namespace

void lower_unary(Lowering& L, const Node& n) {
  const int x = n.inputs[0], y = n.outputs[0];
  UnaryParams p{};
  p.count = u32(n, shape_numel(L.shape(x)));
  const Activation act = Activation::from_activation_node(L.graph(), n);
  p.alpha = act.alpha;
  p.beta = act.beta;
  if (n.op_type == "Clip" && act.none()) {  // a bound fed at run time; absent ones are infinite
    Dispatch& d = L.dispatch(kernel_name("clip", "fed", L.suffix(x))).input(0, x);
    for (uint32_t i = 1; i <= 2; ++i) {
      const float unbounded = i == 1 ? -INFINITY : INFINITY;
      if (Lowering::has_input(n, int(i)) && shape_numel(L.shape(n.inputs[i])) > 0) d.input(i, n.inputs[i]);
      else d.buffer(i, L.upload_floats({unbounded}));
    }
    d.output(3, y).params(4, p).threads_1d(p.count);
    return;
  }
  const bool integer_op = n.op_type == "Neg" || n.op_type == "Abs";
  if (is_integer(L.storage(x)) && !integer_op) unsupported(n, n.op_type + " of integers");
  std::string op = "unary", variant = n.op_type;
  if (variant == "Elu" || variant == "Selu") {
    p.alpha = n.attrs.get_float("alpha", variant == "Selu" ? 1.67326319217681884765625f : 1.f);
    p.beta = n.attrs.get_float("gamma", 1.05070102214813232421875f);
  } else if (variant == "Gelu" && n.attrs.get_string("approximate", "none") == "tanh") {
    variant = "GeluTanh";
  } else if (variant == "IsNaN" || variant == "IsInf") {  // bool out
    op = "predicate";
    p.alpha = float(n.attrs.get_int("detect_negative", 1) != 0);
    p.beta = float(n.attrs.get_int("detect_positive", 1) != 0);
  }
  L.dispatch(kernel_name(op, variant, L.suffix(x))).input(0, x).output(1, y).params(2, p).threads_1d(p.count);
}

void lower_binary(Lowering& L, const Node& n) {
  const int y = n.outputs[0];
  const DType t = L.storage(n.inputs[0]);
  const std::string& op = n.op_type;
  const bool integer_op = op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Mod" || op == "Min" ||
                          op == "Max" || op == "Pow";
  if (is_integer(t) && !integer_op) unsupported(n, op + " of integers");
  const bool fmod = op == "Mod" && n.attrs.get_int("fmod", 0) != 0;
  const bool sum = op == "Sum" || op == "Mean";
  std::vector<int> inputs;
  for (int v : n.inputs)
    if (v >= 0) inputs.push_back(v);
  // Each input is read as its own storage dtype: only Pow's exponent may differ from the base.
  std::string dtype = dtype_suffix(t);
  if (op == "Pow" && L.storage(inputs[1]) != t) dtype += "_" + L.suffix(inputs[1]);
  const std::string kernel = kernel_name("binary", fmod ? "FMod" : sum ? "Add" : op, dtype);
  if (inputs.size() == 1) {  // variadic Min/Max/Sum/Mean of one input
    const Shape& out = L.shape(y);
    strided_copy(L, n, inputs[0], y, out, broadcast_strides(L.shape(inputs[0]), out), 0, shape_strides(out), 0);
    return;
  }
  // Variadic Min/Max fold left: y = op(op(a, b), c) ...; later steps read y back at full shape.
  int acc = inputs[0];
  for (size_t i = 1; i < inputs.size(); ++i) {
    const BroadcastParams p = broadcast_params(L, n, {acc, inputs[i]}, L.shape(y));
    L.dispatch(kernel).input(0, acc).input(1, inputs[i]).output(2, y).params(3, p).threads_1d(p.count);
    acc = y;
  }
  if (op == "Mean") {
    UnaryParams p{};
    p.count = u32(n, shape_numel(L.shape(y)));
    p.alpha = 1.f / float(inputs.size());
    L.dispatch(kernel_name("unary", "Scale", L.suffix(y))).input(0, y).output(1, y).params(2, p).threads_1d(p.count);
  }
}

void lower_comparison(Lowering& L, const Node& n) {
  const int a = n.inputs[0], b = n.inputs[1], y = n.outputs[0];
  const BroadcastParams p = broadcast_params(L, n, {a, b}, L.shape(y));
  L.dispatch(kernel_name("compare", n.op_type, L.suffix(a))).input(0, a).input(1, b).output(2, y).params(3, p).threads_1d(p.count);
}

void lower_where(Lowering& L, const Node& n) {
  const int c = n.inputs[0], a = n.inputs[1], b = n.inputs[2], y = n.outputs[0];
  const BroadcastParams p = broadcast_params(L, n, {c, a, b}, L.shape(y));
  L.dispatch(kernel_name("where", "select", L.suffix(a)))
      .input(0, c).input(1, a).input(2, b).output(3, y).params(4, p).threads_1d(p.count);
}

}  // namespace metalnn::gpu
