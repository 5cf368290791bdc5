// The GPU devices' Executable (metal and metal-sim alike): every node lowered to dispatches at load
// (pipelines built, weights uploaded), intermediates in one arena laid out by the Plan, and per run
// one command buffer holding every dispatch, with barriers only where data dependencies need them.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/executable.h"
#include "core/plan.h"
#include "gpu/device.h"
#include "gpu/lowering.h"

namespace metalnn::gpu {

class GpuExecutable : public Executable {
 public:
  // precision: "float32" or "float16" (float values and weights stored in half, computed in float).
  // evaluator: runs the nodes whose outputs are known at load (core/evaluator.h).
  GpuExecutable(const Graph& g, std::shared_ptr<Device> device, PipelineCache& pipelines, const std::string& precision,
                const NodeEvaluator& evaluator);
  std::vector<Tensor> run(const std::vector<Tensor>& inputs) override;
  size_t arena_bytes() const override { return plan_.arena_bytes; }
  // Host names of the kernels of every step, in order.
  std::vector<std::string> kernels() const;
  // Those a run dispatches (steps with a non-empty grid).
  std::vector<std::string> dispatched_kernels() const;

 private:
  struct Location {
    Buffer* buffer = nullptr;
    size_t offset = 0;
    size_t length = 0;
  };
  Location locate(const Binding& b, const std::vector<std::shared_ptr<Buffer>>& inputs,
                  const std::vector<std::shared_ptr<Buffer>>& outputs) const;
  // Construction steps: the arena plan, the float conversions at the graph's edges, the nodes' dispatches.
  void plan_memory(const Lowering& lowering);
  void convert_edges(PipelineCache& pipelines, std::vector<Dispatch>& prologue, std::vector<Dispatch>& epilogue);
  void lower_nodes(Lowering& lowering);
  void encode(CommandBuffer& cb, const std::vector<std::shared_ptr<Buffer>>& inputs,
              const std::vector<std::shared_ptr<Buffer>>& outputs) const;

  Graph graph_;
  DType float_storage_ = DType::Float32;  // how float values are stored on the device
  std::shared_ptr<Device> device_;
  Plan plan_;
  std::shared_ptr<Buffer> arena_;
  std::vector<std::shared_ptr<Buffer>> internal_;  // per value id: a dedicated buffer (float16 model inputs and outputs)
  std::vector<char> produced_;                      // per value id: written by a dispatch
  std::vector<std::shared_ptr<Buffer>> staging_;   // per graph input: where it is copied when it cannot be wrapped
  std::vector<Dispatch> dispatches_;
};

// Test switch: with false, encoding leaves out every barrier between dependent dispatches, so that
// tests can show metal-sim catching a host that forgets one. Process-wide; true by default.
void set_encoder_barriers(bool enabled);

}  // namespace metalnn::gpu
