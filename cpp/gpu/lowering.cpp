#include "gpu/lowering.h"

#include "core/activation.h"
#include "core/derived_cache.h"
#include "core/error.h"
#include "params.h"

namespace metalnn::gpu {

static_assert(int(Activation::Kind::None) == kActNone && int(Activation::Kind::Relu) == kActRelu &&
                  int(Activation::Kind::LeakyRelu) == kActLeakyRelu && int(Activation::Kind::Clip) == kActClip &&
                  int(Activation::Kind::Sigmoid) == kActSigmoid &&
                  int(Activation::Kind::HardSigmoid) == kActHardSigmoid &&
                  int(Activation::Kind::HardSwish) == kActHardSwish && int(Activation::Kind::Tanh) == kActTanh &&
                  int(Activation::Kind::Swish) == kActSwish && int(Activation::Kind::Gelu) == kActGelu &&
                  int(Activation::Kind::GeluTanh) == kActGeluTanh,
              "metal/params.h MnnActivation must follow Activation::Kind");

namespace {
constexpr uint32_t kThreadsPerGroup = 256;
constexpr uint32_t kSimdgroupsPerGroup = 8;

uint32_t groups_for(uint64_t count, uint64_t per_group) {
  const uint64_t groups = (count + per_group - 1) / per_group;
  if (groups > 0xffffffffull) throw UnsupportedOpError("GPU dispatch of " + std::to_string(count) + " items is too large");
  return uint32_t(groups);
}
}  // namespace

Dispatch& Dispatch::input(uint32_t index, int value) {
  bindings.push_back(Binding{Binding::Source::kValue, index, value});
  return *this;
}
Dispatch& Dispatch::output(uint32_t index, int value) {
  Binding b{Binding::Source::kValue, index, value};
  b.write = true;
  bindings.push_back(std::move(b));
  return *this;
}
Dispatch& Dispatch::buffer(uint32_t index, std::shared_ptr<Buffer> buf) {
  Binding b{Binding::Source::kBuffer, index};
  b.buffer = std::move(buf);
  bindings.push_back(std::move(b));
  return *this;
}
Dispatch& Dispatch::threads_1d(uint64_t count) {
  return grid(Size3{groups_for(count, kThreadsPerGroup), 1, 1}, Size3{kThreadsPerGroup, 1, 1});
}
Dispatch& Dispatch::simdgroups_1d(uint64_t count) {
  return grid(Size3{groups_for(count, kSimdgroupsPerGroup), 1, 1}, Size3{kSimdgroupsPerGroup * simd_width, 1, 1});
}
Dispatch& Dispatch::grid(Size3 threadgroups, Size3 threads_per_threadgroup) {
  groups = threadgroups;
  threads = threads_per_threadgroup;
  return *this;
}

Lowering::Lowering(const Graph& g, DType float_storage, Device& device, PipelineCache& pipelines,
                   const NodeEvaluator& evaluator)
    : g_(g), float_storage_(float_storage), device_(device), limits_(device.limits()), pipelines_(pipelines),
      evaluator_(evaluator) {}

DType Lowering::storage(int id) const {
  const DType t = g_.value(id).dtype;
  return t == DType::Float32 || t == DType::Float16 ? float_storage_ : t;
}

const Tensor* Lowering::constant_input(const Node& n, int i) const {
  if (!has_input(n, i)) return nullptr;
  const Value& v = g_.value(n.inputs[i]);
  return v.is_constant() ? &v.constant : nullptr;
}

std::vector<int64_t> Lowering::constant_ints(const Node& n, int i) const {
  const Tensor* t = constant_input(n, i);
  return t ? t->to_int_vector() : std::vector<int64_t>{};
}

std::shared_ptr<Buffer> Lowering::upload_bytes(const void* data, size_t bytes) {
  auto buffer = device_.new_buffer(bytes);
  if (bytes) std::memcpy(buffer->contents(), data, bytes);
  return buffer;
}

std::shared_ptr<Buffer> Lowering::upload_floats(const std::vector<float>& values) {
  const size_t size = dtype_size(float_storage_);
  auto buffer = device_.new_buffer(values.size() * size);
  auto* out = static_cast<unsigned char*>(buffer->contents());
  for (size_t i = 0; i < values.size(); ++i) {
    if (float_storage_ == DType::Float16) {
      const _Float16 h = static_cast<_Float16>(values[i]);
      std::memcpy(out + i * size, &h, size);
    } else {
      std::memcpy(out + i * size, &values[i], size);
    }
  }
  return buffer;
}

std::shared_ptr<Buffer> Lowering::constant_buffer(int id) {
  auto it = constants_.find(id);
  if (it != constants_.end()) return it->second;
  const Tensor& t = g_.value(id).constant;
  // One upload per (device, tensor, storage dtype), shared by every specialisation of a model.
  static DerivedCache<Buffer> uploaded;
  const DType stored = storage(id);
  const std::string how = "upload@" + std::to_string(reinterpret_cast<uintptr_t>(&device_)) + ":" + dtype_name(stored);
  std::shared_ptr<Buffer> buffer = uploaded.get(t, how, [&] {
    if (stored == t.dtype()) return upload_bytes(t.raw(), t.nbytes());
    std::vector<float> values(size_t(t.numel()));
    for (size_t i = 0; i < values.size(); ++i) values[i] = float(t.float_at(int64_t(i)));
    return upload_floats(values);
  });
  constants_.emplace(id, buffer);
  return buffer;
}

Dispatch& Lowering::dispatch(const std::string& kernel, const FunctionConstants& constants) {
  dispatches_.emplace_back();
  dispatches_.back().pipeline = pipelines_.get(kernel, constants);
  dispatches_.back().simd_width = limits_.simd_width;
  return dispatches_.back();
}

void unsupported(const Node& n, const std::string& what) {
  throw UnsupportedOpError(n.label() + ": the GPU devices do not support " + what);
}

void check_dispatch(const Dispatch& d, const Device& device, const std::string& what) {
  const Pipeline& p = *d.pipeline;
  const DeviceLimits limits = device.limits();
  const uint64_t threads = uint64_t(d.threads.x) * d.threads.y * d.threads.z;
  size_t shared_bytes = 0;
  for (const auto& entry : d.threadgroup_memory) shared_bytes += entry.second;
  std::string problem;
  if (p.thread_execution_width() != limits.simd_width) {
    problem = "runs " + std::to_string(p.thread_execution_width()) + "-wide SIMD-groups (threadExecutionWidth), the " +
              "kernels are dispatched for " + std::to_string(limits.simd_width);
  } else if (threads == 0 || threads > p.max_total_threads_per_threadgroup()) {
    problem = "allows " + std::to_string(p.max_total_threads_per_threadgroup()) +
              " threads per threadgroup (maxTotalThreadsPerThreadgroup), the lowering uses " + std::to_string(threads);
  } else if (shared_bytes > limits.max_threadgroup_memory) {
    problem = "needs " + std::to_string(shared_bytes) + " bytes of threadgroup memory, the GPU has " +
              std::to_string(limits.max_threadgroup_memory);
  } else {
    return;
  }
  throw DeviceError(device.name() + ": GPU '" + device.info().gpu + "' cannot run " + what + ": kernel '" +
                    p.kernel_name() + "' " + problem);
}

}  // namespace metalnn::gpu
