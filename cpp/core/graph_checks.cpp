#include "core/graph_checks.h"

#include <set>
#include <vector>

#include "core/error.h"

namespace metalnn {

void check_graph_structure(const Graph& g, const std::string& source) {
  auto fail = [&](const std::string& msg) { throw ModelError(source + ": " + msg); };
  std::vector<int> producer(g.num_values(), -1);
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    for (int v : n.outputs) {
      if (v < 0) continue;
      const Value& val = g.value(v);
      if (producer[v] >= 0)
        fail("value '" + val.name + "' is produced by both node " + std::to_string(producer[v]) + " " +
             g.nodes()[size_t(producer[v])].label() + " and node " +
             std::to_string(i) + " " + n.label());
      if (val.is_constant()) fail("node " + std::to_string(i) + " " + n.label() + " overwrites constant '" + val.name + "'");
      producer[v] = static_cast<int>(i);
    }
  }
  std::set<int> inputs;
  for (int v : g.inputs()) {
    const Value& val = g.value(v);
    if (!inputs.insert(v).second) fail("graph input '" + val.name + "' is listed twice");
    if (val.is_constant()) fail("graph input '" + val.name + "' is a constant (an initializer)");
    if (producer[v] >= 0)
      fail("node " + std::to_string(producer[v]) + " " + g.nodes()[size_t(producer[v])].label() +
           " overwrites graph input '" + val.name + "'");
    if (!val.has_shape || val.dtype == DType::Undefined) fail("graph input '" + val.name + "' has no dtype or shape");
  }
  if (g.outputs().empty()) fail("the graph has no outputs");
  for (int v : g.outputs()) {
    const Value& val = g.value(v);
    if (producer[v] < 0 && !val.is_constant() && !inputs.count(v)) fail("graph output '" + val.name + "' is never produced");
  }
}

}  // namespace metalnn
