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

// The other operand of binary node `n`, when `x` is one of its two inputs; -1 otherwise.
inline int other_operand(const Node& n, int x) {
  if (n.inputs.size() != 2) return -1;
  return n.inputs[0] == x ? n.inputs[1] : n.inputs[1] == x ? n.inputs[0] : -1;
}

// A float32 constant of `channels` values that, broadcast against an output of rank `out_rank`,
// varies only along the axis `axis_from_end` places from the last (a per-channel bias or scale).
inline bool is_channel_constant(const Value& c, int64_t channels, int axis_from_end, int out_rank) {
  if (!c.is_constant() || c.dtype != DType::Float32 || c.constant.numel() != channels) return false;
  const int rank = static_cast<int>(c.shape.size());
  if (rank > out_rank) return false;
  for (int i = 0; i < rank; ++i)
    if (rank - 1 - i != axis_from_end && c.shape[i] != 1) return false;
  return rank > axis_from_end || channels == 1;
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
