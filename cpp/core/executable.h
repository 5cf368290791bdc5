// What a device makes of an optimised graph: built once at load time, run once per inference.
#pragma once
#include <cstddef>
#include <vector>

#include "core/graph.h"

namespace metalnn {

class Executable {
 public:
  virtual ~Executable() = default;
  // `inputs` follow the graph's input order and are already validated; returns the graph outputs in
  // order, in freshly allocated tensors that the caller owns. Not re-entrant: callers serialise.
  virtual std::vector<Tensor> run(const std::vector<Tensor>& inputs) = 0;
  virtual size_t arena_bytes() const = 0;
  // The graph it runs, where the device keeps one (a weight it freed shows as a constant without
  // data); nullptr otherwise.
  virtual const Graph* held_graph() const { return nullptr; }
};

}  // namespace metalnn
