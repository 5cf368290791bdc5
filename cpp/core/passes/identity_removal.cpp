// Nodes that pass their input through unchanged (Identity, inference-mode Dropout, a Cast to the
// dtype the value has) are removed, their readers reading the input instead.
#include <algorithm>

#include "core/passes/passes.h"
#include "core/passes/pattern.h"

namespace metalnn {

void remove_identities(Graph& g) {
  std::vector<char> dead(g.nodes().size(), 0);
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    Node& n = g.nodes()[i];
    bool forwards = n.op_type == "Identity" || (n.op_type == "Dropout" && n.attrs.get_int("training_mode", 0) == 0);
    if (n.inputs.empty() || n.inputs[0] < 0 || n.outputs.empty()) continue;
    // A Cast (or CastLike) to the dtype it already has: eager attention's softmax(..., dtype=float32).to(dtype)
    // exports as two of them between Softmax and MatMul.
    const DType from = g.value(n.inputs[0]).dtype;
    if ((n.op_type == "Cast" || n.op_type == "CastLike") && from != DType::Undefined && g.value(n.outputs[0]).dtype == from)
      forwards = true;
    if (!forwards) continue;
    // Dropout's mask output must stay computable.
    if (n.outputs.size() > 1 && n.outputs[1] >= 0) continue;
    int out = n.outputs[0];
    // A graph output keeps its name and its own buffer, so a copy remains.
    if (std::find(g.outputs().begin(), g.outputs().end(), out) != g.outputs().end()) continue;
    g.replace_uses(out, n.inputs[0]);
    dead[i] = 1;
  }
  erase_nodes(g, dead);
}

}  // namespace metalnn
