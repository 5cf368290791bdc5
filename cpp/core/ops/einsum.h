// The parsed Einsum equation, shared by the schema and the kernels: every dim of every operand gets a
// label (letters, and one label per broadcast ellipsis dim), each label a size.
#pragma once
#include <vector>

#include "core/graph.h"

namespace metalnn {

struct EinsumSpec {
  std::vector<std::vector<int>> inputs;  // per input, the label of each dim (a repeated label: a diagonal)
  std::vector<int> output;               // the label of each output dim; labels absent here are summed
  std::vector<int64_t> sizes;            // per label; an input dim of 1 broadcasts along an ellipsis label
};

// Parses n's `equation` against the input shapes (explicit "->" form or implicit: the ellipsis dims,
// then the letters used once, alphabetically). Errors start with the node's label.
EinsumSpec parse_einsum(const Node& n, const std::vector<Shape>& inputs);

}  // namespace metalnn
