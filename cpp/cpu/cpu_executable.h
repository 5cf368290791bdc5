// The cpu device's Executable: one pre-built Kernel per node, intermediates in one arena laid out by the Plan.
#pragma once
#include <memory>
#include <vector>

#include "core/executable.h"
#include "core/plan.h"
#include "cpu/kernel.h"

namespace metalnn::cpu {

class CpuExecutable : public Executable {
 public:
  // threads > 0: run on the shared pool of that many threads; 0: on the process's default pool.
  // A constant whose every reader keeps its own packed form is dropped from the executable's graph
  // (its dtype and shape stay): its bytes are freed once no one else holds them.
  explicit CpuExecutable(Graph g, int threads = 0);
  std::vector<Tensor> run(const std::vector<Tensor>& inputs) override;
  size_t arena_bytes() const override { return plan_.arena_bytes; }
  const Graph* held_graph() const override { return &graph_; }

 private:
  // Drops value v's data from the graph and its slot; false when already dropped.
  bool release_constant(int v);
  static void return_free_memory();
  struct Step {
    std::vector<int> inputs, outputs;  // value ids, -1 for omitted
    std::unique_ptr<Kernel> kernel;
  };
  Graph graph_;
  int threads_;
  Plan plan_;
  Tensor arena_;
  std::vector<Step> steps_;
  std::vector<Tensor> slots_;   // per value id: the tensor a kernel reads or writes
  std::vector<char> produced_;  // per value id: written by some step
  static constexpr size_t kNotProfiled = static_cast<size_t>(-1);
  size_t profile_first_step_ = kNotProfiled;  // this executable's first step in Profiler::global()
};

}  // namespace metalnn::cpu
