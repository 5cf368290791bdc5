#include "core/passes/passes.h"
#include "core/passes/pattern.h"

namespace metalnn {

namespace {

// The scalar float constant behind value v, if it is one.
bool scalar_constant(const Graph& g, int v, float& out) {
  const Value& c = g.value(v);
  if (!c.is_constant() || c.constant.numel() != 1 || c.dtype != DType::Float32) return false;
  out = static_cast<float>(c.constant.float_at(0));
  return true;
}

}  // namespace

void fuse_swish(Graph& g) {
  std::vector<int> uses = g.use_counts();
  std::vector<int> producer = g.producers();
  std::vector<char> dead(g.nodes().size(), 0);
  for (size_t mi = 0; mi < g.nodes().size(); ++mi) {
    Node& mul = g.nodes()[mi];
    if (mul.op_type != "Mul" || mul.inputs.size() != 2 || g.value(mul.outputs[0]).dtype != DType::Float32) continue;
    for (int side = 0; side < 2; ++side) {
      const int x = mul.inputs[side], gate = mul.inputs[1 - side];
      if (!mergeable_edge(g, uses, gate) || producer[gate] < 0 || dead[producer[gate]]) continue;
      const Node& sigmoid = g.nodes()[producer[gate]];
      if (sigmoid.op_type != "Sigmoid" || g.value(x).shape != g.value(mul.outputs[0]).shape) continue;
      // x * sigmoid(x), or x * sigmoid(alpha * x) with a constant scalar alpha.
      float alpha = 1.f;
      int scaled_mul = -1;
      const int s = sigmoid.inputs[0];
      if (s != x) {
        if (!mergeable_edge(g, uses, s) || producer[s] < 0 || dead[producer[s]]) continue;
        const Node& scale = g.nodes()[producer[s]];
        if (scale.op_type != "Mul" || scale.inputs.size() != 2) continue;
        const int k = scale.inputs[0] == x ? 1 : scale.inputs[1] == x ? 0 : -1;
        if (k < 0 || !scalar_constant(g, scale.inputs[k], alpha)) continue;
        scaled_mul = producer[s];
      }
      dead[producer[gate]] = 1;
      if (scaled_mul >= 0) dead[scaled_mul] = 1;
      mul.op_type = "Swish";
      mul.inputs = {x};
      mul.attrs = Attributes();
      mul.attrs.set("alpha", Attribute::make_float(alpha));
      break;
    }
  }
  erase_nodes(g, dead);
}

}  // namespace metalnn
