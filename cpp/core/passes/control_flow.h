// Resolving If and Loop inside constant folding: the nodes a resolved node stands for are handed
// one by one to the folding loop, so a nested If or a loop condition folds as soon as its inputs do.
#pragma once
#include <cstdint>
#include <functional>

#include "core/graph.h"

namespace metalnn {

// At most this many node copies per Loop (trip count x body nodes) and in all of one graph's
// control flow; above it the loop is refused rather than unrolled.
inline constexpr int64_t kMaxUnrolledNodes = 1 << 16;
inline constexpr int64_t kMaxInlinedNodes = 1 << 18;

struct ControlFlowState {
  int64_t inlined_nodes = 0;
};

// Processes (infers, folds or keeps) one node.
using NodeSink = std::function<void(Node)>;

// When `n` is an If or a Loop, replaces it: its branch or unrolled body goes through `sink`, and
// returns true. Throws UnsupportedOpError (InferContext::require_constant's) when the condition or
// trip count is not a constant, and ModelError when the node's sub-graphs do not fit it.
bool expand_control_flow(Graph& g, const Node& n, const NodeSink& sink, ControlFlowState& state);

}  // namespace metalnn
