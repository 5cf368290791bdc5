#include "core/passes/passes.h"
#include "core/passes/pattern.h"

namespace metalnn {

void fuse_bias(Graph& g) {
  std::vector<int> uses = g.use_counts();
  std::vector<int> producer = g.producers();
  std::vector<char> dead(g.nodes().size(), 0);
  for (size_t ai = 0; ai < g.nodes().size(); ++ai) {
    Node& add = g.nodes()[ai];
    if (add.op_type != "Add") continue;
    for (int x : add.inputs) {
      if (!mergeable_edge(g, uses, x) || producer[x] < 0 || dead[producer[x]]) continue;
      Node& p = g.nodes()[producer[x]];
      if (p.attrs.has("_activation")) continue;
      int b = other_operand(add, x);
      if (b < 0) continue;
      const Value& out = g.value(x);
      const Value& bias = g.value(b);
      if (out.shape != g.value(add.outputs[0]).shape) continue;  // the Add must not broadcast the product
      int rank = static_cast<int>(out.shape.size());
      if (p.op_type == "MatMul" && p.inputs.size() == 2 && rank >= 1 &&
          is_channel_constant(bias, out.shape.back(), 0, rank)) {
        p.inputs.push_back(g.add_constant(g.unique_name(p.name + ".bias"), bias.constant.reshaped({out.shape.back()})));
      } else if (p.op_type == "Conv" && rank >= 3 && is_channel_constant(bias, out.shape[1], rank - 2, rank)) {
        const int64_t c = out.shape[1];
        Tensor merged = Tensor::empty(DType::Float32, {c});
        const Tensor* old = constant_f32_input(g, p, 2);
        if (p.inputs.size() > 2 && p.inputs[2] >= 0 && !old) continue;  // run-time bias: leave it
        for (int64_t i = 0; i < c; ++i)
          merged.data<float>()[i] = bias.constant.data<float>()[i] + (old ? old->data<float>()[i] : 0.f);
        p.inputs.resize(3);
        p.inputs[2] = g.add_constant(g.unique_name(p.name + ".bias"), std::move(merged));
      } else {
        continue;
      }
      p.outputs[0] = add.outputs[0];
      dead[ai] = 1;
      break;
    }
  }
  erase_nodes(g, dead);
}

}  // namespace metalnn
