// Evaluating one node on host tensors, for work done at load time: constant folding, and the GPU
// path's outputs known at load (Shape, Size, nodes with only constant inputs). Core declares the
// interface; the CPU device implements it (cpu/evaluator.h) and the engine hands it down, so
// neither the passes nor another device include a device.
#pragma once
#include <vector>

#include "core/graph.h"
#include "core/tensor.h"

namespace metalnn {

class NodeEvaluator {
 public:
  virtual ~NodeEvaluator() = default;
  // Whether evaluate() can run a node of this op type.
  virtual bool can_evaluate(const std::string& op_type) const = 0;
  // Runs node `n` of `g` (shapes and dtypes inferred). inputs[i] is nullptr for an omitted optional
  // input; outputs[i] is nullptr for an output not wanted, else allocated with its inferred shape.
  virtual void evaluate(const Graph& g, const Node& n, const std::vector<const Tensor*>& inputs,
                        const std::vector<Tensor*>& outputs) const = 0;
};

}  // namespace metalnn
