#include "core/activation.h"
#include "core/passes/passes.h"
#include "core/passes/pattern.h"

namespace metalnn {

void fuse_activations(Graph& g) {
  std::vector<int> uses = g.use_counts();
  std::vector<int> producer = g.producers();
  std::vector<char> dead(g.nodes().size(), 0);
  for (size_t ai = 0; ai < g.nodes().size(); ++ai) {
    Node& act_node = g.nodes()[ai];
    if (act_node.inputs.empty()) continue;
    Activation act = Activation::from_activation_node(g, act_node);
    int x = act_node.inputs[0];
    if (act.none() || !mergeable_edge(g, uses, x) || producer[x] < 0) continue;
    // An elementwise activation commutes with a Reshape between it and the producer (GPT-2's Gemm on
    // [B * S, E] rows reshaped to [B, S, E]): the producer takes the activation, the Reshape moves after it.
    Node* reshape = nullptr;
    int source = x;
    if (g.nodes()[producer[x]].op_type == "Reshape") {
      reshape = &g.nodes()[producer[x]];
      source = reshape->inputs[0];
      if (!mergeable_edge(g, uses, source) || producer[source] < 0) continue;
    }
    Node& p = g.nodes()[producer[source]];
    bool fusable = p.op_type == "Conv" || p.op_type == "Gemm" || p.op_type == "MatMul";
    if (!fusable || p.attrs.has("_activation") || g.value(x).dtype != DType::Float32) continue;
    act.store(p);
    (reshape ? reshape : &p)->outputs[0] = act_node.outputs[0];
    dead[ai] = 1;
  }
  erase_nodes(g, dead);
}

}  // namespace metalnn
