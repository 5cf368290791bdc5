// If and Loop: how a node's inputs and outputs line up with its sub-graphs. Neither op reaches a
// device: constant folding (core/passes/control_flow.cpp) inlines the branch an If takes, or unrolls a
// Loop, once its condition and trip count are constant in a specialisation.
//
// Layout (the importer makes every value a sub-graph reads from an enclosing scope an explicit input):
//   If   inputs: cond, captured...            then_branch / else_branch inputs: captured...
//   Loop inputs: M, cond, carried..., captured...   attribute _captured = number of captured inputs
//        body inputs: iteration_num, cond, carried..., captured...
//        body outputs: cond, carried..., scan...    node outputs: carried..., scan...
#pragma once
#include "core/graph.h"

namespace metalnn {

struct IfParts {
  const Graph* then_branch;
  const Graph* else_branch;
};

struct LoopParts {
  const Graph* body;
  int carried;
  int captured;
  int scans;
};

// Throw ModelError naming the node and the sub-graph when the layout above does not hold.
IfParts check_if(const Node& n);
LoopParts check_loop(const Node& n);

// True when the node carries a sub-graph attribute (its outputs are known only per specialisation).
bool has_subgraph(const Node& n);

}  // namespace metalnn
