// Opt-in per-step timing for executables, read by metalnn-bench --profile. The public API has no
// profiling call yet, so this is an internal, process-wide recorder: enable it before loading a model,
// then every run of an executable compiled while it was on adds one time per step.
#pragma once
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "core/graph.h"

namespace metalnn {

struct StepProfile {
  std::string label;         // the node's label, "Conv 'layer1.0.conv1'"
  std::string op_type;
  double flops = 0;          // 2 x multiply-adds of one run (Conv, Gemm, MatMul); 0 for other ops
  std::vector<double> seconds;  // one entry per profiled run
};

class Profiler {
 public:
  static Profiler& global();

  void set_enabled(bool on);
  bool enabled() const;
  // Forgets all steps and arena sizes.
  void clear();

  // For executables: registers a compiled plan's steps (returns the index of the first) and arena size.
  size_t add_executable(const Graph& g, size_t arena_bytes);
  void record(size_t step, double seconds);

  std::vector<StepProfile> steps() const;
  // Arena bytes of every executable compiled while enabled, summed.
  size_t arena_bytes() const;

 private:
  mutable std::mutex mutex_;
  bool enabled_ = false;
  std::vector<StepProfile> steps_;
  size_t arena_bytes_ = 0;
};

// FLOPs of one run of node `n` (2 x multiply-adds for Conv, ConvTranspose, Gemm, MatMul; else 0).
double node_flops(const Graph& g, const Node& n);

}  // namespace metalnn
