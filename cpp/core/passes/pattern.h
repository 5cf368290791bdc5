// Small helpers shared by the fusion passes: who produces a value, who reads it.
#pragma once
#include <algorithm>
#include <vector>

#include "core/graph.h"

namespace metalnn {

// A producer -> consumer edge that a pass may merge: the producer's output feeds only the consumer
// and is not a graph output, so removing it changes nothing observable.
inline bool mergeable_edge(const Graph& g, const std::vector<int>& uses, int value) {
  if (value < 0 || uses[value] != 1) return false;
  return std::find(g.outputs().begin(), g.outputs().end(), value) == g.outputs().end();
}

// The constant float32 tensor behind input i of n, or nullptr.
inline const Tensor* constant_f32_input(const Graph& g, const Node& n, size_t i) {
  if (i >= n.inputs.size() || n.inputs[i] < 0) return nullptr;
  const Value& v = g.value(n.inputs[i]);
  return v.is_constant() && v.dtype == DType::Float32 ? &v.constant : nullptr;
}

// The value of a one-element float32 constant `v` in `out`, or false.
inline bool scalar_f32(const Graph& g, int v, float& out) {
  if (v < 0) return false;
  const Value& val = g.value(v);
  if (!val.is_constant() || val.dtype != DType::Float32 || val.constant.numel() != 1) return false;
  out = val.constant.data<float>()[0];
  return true;
}

// Marks the nodes `parts` of a matched pattern dead, unless an earlier match already took one of them.
inline bool claim(std::vector<char>& dead, const std::vector<int>& parts) {
  for (int p : parts)
    if (dead[p]) return false;
  for (int p : parts) dead[p] = 1;
  return true;
}

// Removes the nodes flagged in `dead` (indices into g.nodes()).
inline void erase_nodes(Graph& g, const std::vector<char>& dead) {
  std::vector<Node> kept;
  kept.reserve(g.nodes().size());
  for (size_t i = 0; i < g.nodes().size(); ++i)
    if (!dead[i]) kept.push_back(std::move(g.nodes()[i]));
  g.nodes() = std::move(kept);
}

}  // namespace metalnn
