// What an op lowering sees: the node's values and their storage dtypes, weights uploaded once, and
// the dispatches it records (kernel, bindings, grid). Bindings name graph values; the executable
// resolves them to buffers when it encodes a run, and derives the barriers from them.
#pragma once
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/evaluator.h"
#include "core/graph.h"
#include "gpu/device.h"
#include "gpu/kernel_name.h"
#include "gpu/pipeline_cache.h"

namespace metalnn::gpu {

struct Binding {
  enum class Source { kValue, kBuffer, kBytes, kGraphInput, kGraphOutput };
  Binding(Source source_, uint32_t index_, int id_ = -1) : source(source_), index(index_), id(id_) {}
  Source source;
  uint32_t index;
  int id = -1;                      // value id (kValue) or graph input/output position
  std::shared_ptr<Buffer> buffer;   // kBuffer
  std::vector<unsigned char> bytes;  // kBytes
  bool write = false;
};

struct Dispatch {
  std::shared_ptr<Pipeline> pipeline;
  std::vector<Binding> bindings;
  std::vector<std::pair<uint32_t, size_t>> threadgroup_memory;  // (index, bytes)
  Size3 groups, threads;
  uint32_t simd_width = 0;  // the device's (DeviceLimits::simd_width), set by Lowering::dispatch

  Dispatch& input(uint32_t index, int value);
  Dispatch& output(uint32_t index, int value);
  Dispatch& buffer(uint32_t index, std::shared_ptr<Buffer> buffer);
  template <class Params>
  Dispatch& params(uint32_t index, const Params& p) {
    Binding b{Binding::Source::kBytes, index};
    b.bytes.resize(sizeof p);
    std::memcpy(b.bytes.data(), &p, sizeof p);
    bindings.push_back(std::move(b));
    return *this;
  }
  // One thread per element, threadgroups of 256.
  Dispatch& threads_1d(uint64_t count);
  // One SIMD-group per item, 8 SIMD-groups per threadgroup.
  Dispatch& simdgroups_1d(uint64_t count);
  Dispatch& grid(Size3 threadgroups, Size3 threads_per_threadgroup);
};

class Lowering {
 public:
  Lowering(const Graph& g, DType float_storage, Device& device, PipelineCache& pipelines,
           const NodeEvaluator& evaluator);

  const Graph& graph() const { return g_; }
  const Value& value(int id) const { return g_.value(id); }
  const Shape& shape(int id) const { return g_.value(id).shape; }
  // The dtype a value is stored in on the device: float values in the model's precision.
  DType storage(int id) const;
  std::string suffix(int id) const { return dtype_suffix(storage(id)); }
  DType float_storage() const { return float_storage_; }
  const DeviceLimits& limits() const { return limits_; }
  // Evaluates nodes whose outputs are known at load (see ops/shape.cpp).
  const NodeEvaluator& evaluator() const { return evaluator_; }

  // Inputs of the node: present (not omitted), constant data, integers of a constant input.
  static bool has_input(const Node& n, int i) { return i < int(n.inputs.size()) && n.inputs[i] >= 0; }
  const Tensor* constant_input(const Node& n, int i) const;
  std::vector<int64_t> constant_ints(const Node& n, int i) const;

  // Uploads raw bytes (converted index lists and the like).
  std::shared_ptr<Buffer> upload_bytes(const void* data, size_t bytes);
  // Uploads floats converted to the float storage dtype (derived weights such as BatchNorm's scale).
  std::shared_ptr<Buffer> upload_floats(const std::vector<float>& values);
  // The device buffer of a constant value in its storage dtype, uploaded on first use.
  std::shared_ptr<Buffer> constant_buffer(int id);

  // Records a dispatch of `kernel` (its pipeline is built now); fill in bindings and grid.
  Dispatch& dispatch(const std::string& kernel, const FunctionConstants& constants = {});
  std::deque<Dispatch>& dispatches() { return dispatches_; }

 private:
  const Graph& g_;
  DType float_storage_;
  Device& device_;
  DeviceLimits limits_;
  PipelineCache& pipelines_;
  const NodeEvaluator& evaluator_;
  std::map<int, std::shared_ptr<Buffer>> constants_;
  std::deque<Dispatch> dispatches_;
};

// Throws UnsupportedOpError naming the node.
[[noreturn]] void unsupported(const Node& n, const std::string& what);

// Throws DeviceError, naming the GPU, `what` (the node) and the kernel, when `d` asks more than the
// device gives: more threads per threadgroup than its pipeline's maxTotalThreadsPerThreadgroup, more
// threadgroup memory than the device has, or a pipeline whose SIMD width (threadExecutionWidth) is
// not the one the dispatch was sized for.
void check_dispatch(const Dispatch& d, const Device& device, const std::string& what);

// Lowers one node into dispatches; the plain list is in cpp/gpu/ops/registry.cpp.
using LowerFn = void (*)(Lowering&, const Node&);
LowerFn find_lowering(const std::string& op_type);
std::vector<std::string> lowered_op_types();

}  // namespace metalnn::gpu
