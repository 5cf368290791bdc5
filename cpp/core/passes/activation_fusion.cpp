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
    Node& p = g.nodes()[producer[x]];
    bool fusable = p.op_type == "Conv" || p.op_type == "Gemm" || p.op_type == "MatMul";
    if (!fusable || p.attrs.has("_activation") || g.value(x).dtype != DType::Float32) continue;
    act.store(p);
    p.outputs[0] = act_node.outputs[0];
    dead[ai] = 1;
  }
  erase_nodes(g, dead);
}

}  // namespace metalnn
