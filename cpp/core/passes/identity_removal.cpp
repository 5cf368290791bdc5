#include <algorithm>

#include "core/passes/passes.h"
#include "core/passes/pattern.h"

namespace metalnn {

void remove_identities(Graph& g) {
  std::vector<char> dead(g.nodes().size(), 0);
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    Node& n = g.nodes()[i];
    bool forwards = n.op_type == "Identity" || (n.op_type == "Dropout" && n.attrs.get_int("training_mode", 0) == 0);
    if (!forwards || n.inputs.empty() || n.inputs[0] < 0) continue;
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
