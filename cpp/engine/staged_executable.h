// A specialisation whose plan is split where a size is known only at run time. A split point is an
// output whose size only its kernel knows (NonZero, NonMaxSuppression: core/op_schema.h
// data_dependent_axis) or a value that a node needs as a constant but that is computed from data
// (InferContext::require_constant throws RuntimeValueNeeded). The first stage holds every node that
// depends on no split point; it outputs the graph outputs it produces and the values the rest reads,
// trimming data-dependent outputs to their counts. An If whose branches hold a data-dependent op is
// inlined once its condition is known (the condition is a split point until then). The rest is
// specialised at run time, per shapes of its inputs and values of the ones it needs as constants, in
// a bounded LRU cache, and may split again.
// On the GPU each stage runs as one command buffer.
#pragma once
#include <list>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/constant_pool.h"
#include "core/executable.h"
#include "core/graph.h"
#include "engine/devices.h"

namespace metalnn {

class StagedExecutable : public Executable {
 public:
  // `g` has every input shape concrete; `source` is the graph its constants came from (ConstantPool).
  StagedExecutable(Graph g, const CompileOptions& options, ConstantPool& constants, const Graph& source);
  // `g` is its own source, held by no one else: when the whole graph runs as one cpu stage, the
  // weights its kernels pack are freed; otherwise source() keeps `g` as given.
  StagedExecutable(Graph g, const CompileOptions& options, ConstantPool& constants);
  ~StagedExecutable() override;

  std::vector<Tensor> run(const std::vector<Tensor>& inputs) override;
  // The first stage's arena (0 when it has no nodes).
  size_t arena_bytes() const override;
  // The first stage's optimised graph.
  const Graph& graph() const { return first_graph_; }
  // Whether the whole graph runs as one stage with no output to trim.
  bool single_stage() const;
  // `g` as given to the second constructor, unless its weights were freed (then empty).
  const Graph& source() const { return own_source_; }

  // Later stages kept per split (the least recently used is freed beyond it).
  static constexpr size_t kStageCacheCapacity = 8;

 private:
  struct Rest;
  void build(Graph g, const CompileOptions& options, ConstantPool& constants, const Graph& source, bool release);
  Graph own_source_;
  Graph first_graph_;
  std::unique_ptr<Executable> first_;
  std::vector<int> first_outputs_;  // value ids of the original graph, in first_graph_'s output order
  std::vector<int> trim_axis_;      // per first-stage output: data-dependent axis, or -1
  std::unique_ptr<Rest> rest_;
  int num_values_ = 0;
  std::vector<int> inputs_, outputs_;  // of the original graph
};

}  // namespace metalnn
