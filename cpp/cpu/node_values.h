// What a kernel factory reads about its node from the graph: input/output values and constant inputs.
#pragma once
#include "core/graph.h"

namespace metalnn::cpu {

inline bool has_input(const Node& n, int i) { return i < static_cast<int>(n.inputs.size()) && n.inputs[i] >= 0; }
inline const Value& input_value(const Graph& g, const Node& n, int i) { return g.value(n.inputs[i]); }
inline const Value& output_value(const Graph& g, const Node& n, int i) { return g.value(n.outputs[i]); }
// The constant data of input i, or nullptr when it is absent or known only at run time.
inline const Tensor* constant_input(const Graph& g, const Node& n, int i) {
  if (!has_input(n, i)) return nullptr;
  const Value& v = g.value(n.inputs[i]);
  return v.is_constant() ? &v.constant : nullptr;
}
// The integers of constant input i, or an empty list when it is absent.
inline std::vector<int64_t> constant_ints(const Graph& g, const Node& n, int i) {
  const Tensor* t = constant_input(g, n, i);
  return t ? t->to_int_vector() : std::vector<int64_t>{};
}

}  // namespace metalnn::cpu
