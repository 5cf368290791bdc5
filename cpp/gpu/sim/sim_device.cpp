// metal-sim device: buffers are plain host memory, a pipeline is a registered kernel plus its
// function-constant values, and a command buffer is a list of dispatches run at commit.
#include "gpu/sim/sim_device.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "gpu/sim/runtime/executor.h"

namespace metalnn::gpu {
namespace {

using metal_sim::KernelInfo;
using metal_sim::ParamKind;

constexpr size_t kBufferAlignment = 16384;  // page-aligned, like Metal's shared buffers on Apple silicon
constexpr size_t kMaxSetBytes = 4096;

class SimBuffer : public Buffer {
 public:
  SimBuffer(void* data, size_t length, bool owned) : data_(data), length_(length), owned_(owned) {}
  ~SimBuffer() override {
    if (owned_) std::free(data_);
  }
  void* contents() override { return data_; }
  size_t length() const override { return length_; }

 private:
  void* data_;
  size_t length_;
  bool owned_;
};

class SimPipeline : public Pipeline {
 public:
  SimPipeline(const KernelInfo& kernel, std::vector<metal_sim::ConstantValue> constants)
      : kernel_(kernel), name_(kernel.host_name), constants_(std::move(constants)) {}
  const std::string& kernel_name() const override { return name_; }
  uint32_t max_total_threads_per_threadgroup() const override {
    return kernel_.max_total_threads ? kernel_.max_total_threads : metal_sim::kMaxThreadsPerThreadgroup;
  }
  uint32_t thread_execution_width() const override { return metal_sim::kSimdWidth; }
  const KernelInfo& kernel() const { return kernel_; }
  const std::vector<metal_sim::ConstantValue>& constants() const { return constants_; }

 private:
  const KernelInfo& kernel_;
  std::string name_;
  std::vector<metal_sim::ConstantValue> constants_;
};

class SimCommandBuffer : public CommandBuffer {
 public:
  SimCommandBuffer(std::shared_ptr<metal_sim::Executor> executor, bool reverse, bool throw_faults)
      : executor_(std::move(executor)), reverse_(reverse), throw_faults_(throw_faults) {}

  void set_pipeline(const Pipeline& pipeline) override { pipeline_ = static_cast<const SimPipeline*>(&pipeline); }

  void set_buffer(const Buffer& buffer, size_t offset, uint32_t index) override {
    check_index(index, "set_buffer");
    if (offset > buffer.length()) fail("set_buffer: offset " + std::to_string(offset) + " is past the buffer's end");
    bindings_[index] = static_cast<char*>(const_cast<Buffer&>(buffer).contents()) + offset;
    lengths_[index] = buffer.length() - offset;
  }

  void set_bytes(const void* data, size_t length, uint32_t index) override {
    check_index(index, "set_bytes");
    if (length > kMaxSetBytes) fail("set_bytes: " + std::to_string(length) + " bytes, at most 4096 allowed");
    bytes_.emplace_back(new unsigned char[length ? length : 1]);
    std::memcpy(bytes_.back().get(), data, length);
    bindings_[index] = bytes_.back().get();
    lengths_[index] = length;
  }

  void set_threadgroup_memory(size_t length, uint32_t index) override {
    check_index(index, "set_threadgroup_memory");
    threadgroup_lengths_[index] = length;
  }

  void dispatch(Size3 groups, Size3 threads) override { record(groups, threads, Size3{0, 0, 0}); }

  void dispatch_threads(Size3 grid, Size3 threads) override {
    if (!threads.x || !threads.y || !threads.z) {
      record(grid, threads, grid);  // record() reports the empty threadgroup
      return;
    }
    const auto groups = [](uint32_t n, uint32_t t) { return uint32_t((uint64_t(n) + t - 1) / t); };
    record(Size3{groups(grid.x, threads.x), groups(grid.y, threads.y), groups(grid.z, threads.z)}, threads, grid);
  }

  void record(Size3 groups, Size3 threads, Size3 grid) {
    if (!pipeline_) fail("dispatch without a pipeline");
    const KernelInfo& kernel = pipeline_->kernel();
    const std::string where = std::string("kernel '") + kernel.host_name + "': ";
    const uint64_t per_group = uint64_t(threads.x) * threads.y * threads.z;
    if (per_group == 0 || per_group > pipeline_->max_total_threads_per_threadgroup()) {
      fail(where + std::to_string(per_group) + " threads per threadgroup, allowed 1 to " +
           std::to_string(pipeline_->max_total_threads_per_threadgroup()));
    }
    if (uint64_t(groups.x) * groups.y * groups.z == 0) return;
    metal_sim::DispatchDesc d;
    d.kernel = &kernel;
    d.threadgroups[0] = groups.x, d.threadgroups[1] = groups.y, d.threadgroups[2] = groups.z;
    d.threads_per_threadgroup[0] = threads.x, d.threads_per_threadgroup[1] = threads.y;
    d.threads_per_threadgroup[2] = threads.z;
    d.reverse_order = reverse_;
    d.throw_faults = throw_faults_;
    d.grid[0] = grid.x, d.grid[1] = grid.y, d.grid[2] = grid.z;
    d.constants = pipeline_->constants().data();
    d.constant_count = unsigned(pipeline_->constants().size());
    size_t threadgroup_total = 0;
    for (unsigned i = 0; i < kernel.param_count; ++i) {
      const metal_sim::ParamSpec& p = kernel.params[i];
      if (p.kind == ParamKind::kBuffer) {
        if (!bindings_[p.index] && !p.optional) {
          fail(where + "buffer(" + std::to_string(p.index) + ") '" + p.name + "' is not bound");
        }
        d.buffers[p.index] = bindings_[p.index];
        d.buffer_lengths[p.index] = lengths_[p.index];
      } else if (p.kind == ParamKind::kThreadgroupMemory) {
        if (!threadgroup_lengths_[p.index]) {
          fail(where + "threadgroup(" + std::to_string(p.index) + ") '" + p.name + "' has no length set");
        }
        d.threadgroup_lengths[p.index] = threadgroup_lengths_[p.index];
        threadgroup_total += threadgroup_lengths_[p.index];
      }
    }
    if (threadgroup_total > metal_sim::kMaxThreadgroupMemory) {
      fail(where + std::to_string(threadgroup_total) + " bytes of threadgroup memory, at most 32768 allowed");
    }
    dispatches_.push_back(d);
  }

  void barrier() override {}  // dispatches run one after another, in order

  void commit_and_wait() override {
    if (committed_) fail("commit_and_wait called twice on one command buffer");
    committed_ = true;
    try {
      for (const metal_sim::DispatchDesc& d : dispatches_) executor_->run(d);
    } catch (const metal_sim::KernelFault& e) {
      fail(e.what());
    }
  }

 private:
  [[noreturn]] static void fail(const std::string& message) { throw DeviceError("metal-sim: " + message); }
  static void check_index(uint32_t index, const char* what) {
    if (index >= metal_sim::kMaxBufferBindings) fail(std::string(what) + ": index " + std::to_string(index) + " >= 31");
  }

  std::shared_ptr<metal_sim::Executor> executor_;
  bool reverse_;
  bool throw_faults_;
  bool committed_ = false;
  const SimPipeline* pipeline_ = nullptr;
  void* bindings_[metal_sim::kMaxBufferBindings] = {};
  size_t lengths_[metal_sim::kMaxBufferBindings] = {};
  size_t threadgroup_lengths_[metal_sim::kMaxBufferBindings] = {};
  std::vector<std::unique_ptr<unsigned char[]>> bytes_;
  std::vector<metal_sim::DispatchDesc> dispatches_;
};

const char* type_name(metal_sim::ConstantType t) {
  static const char* kNames[] = {"bool", "int", "uint", "short", "ushort", "char", "uchar", "float", "half"};
  return kNames[int(t)];
}

class SimDevice : public Device {
 public:
  SimDevice(metal_sim::KernelLibrary kernels, const SimDeviceOptions& options)
      : kernels_(std::move(kernels)), executor_(std::make_shared<metal_sim::Executor>(options.threads)) {
    const char* env = std::getenv("METALNN_SIM_REVERSE");
    reverse_ = options.reverse_thread_order || (env && std::strcmp(env, "1") == 0);
    recoverable_faults_ = options.recoverable_faults;
  }

  std::string name() const override { return "metal-sim"; }
  DeviceLimits limits() const override {
    DeviceLimits l;
    l.max_threads_per_threadgroup = metal_sim::kMaxThreadsPerThreadgroup;
    l.max_threadgroup_memory = metal_sim::kMaxThreadgroupMemory;
    l.simd_width = metal_sim::kSimdWidth;
    // Each simdgroup-matrix operation runs once per lane here (32x the work): beyond 2^20
    // multiply-adds the tiled GEMM is faster (mobilenet_v2 in tests/python/test_gpu_models.py: 7 s
    // against 12 s).
    l.simdgroup_matrix_max_macs = uint64_t(1) << 20;
    return l;
  }
  DeviceInfo info() const override {
    return DeviceInfo{"metal-sim: threadgroups as fibers on " + std::to_string(executor_->threads()) + " CPU threads",
                      "simulated Apple7", std::to_string(kernel_names().size()) + " kernels translated from .metal to C++"};
  }
  std::vector<std::string> kernel_names() const override {
    std::vector<std::string> names;
    for (const metal_sim::KernelTable* table : kernels_)
      for (unsigned i = 0; i < table->count; ++i) names.emplace_back(table->kernels[i].host_name);
    return names;
  }

 protected:
  std::shared_ptr<Buffer> create_buffer(size_t length) override {
    void* data = nullptr;
    if (posix_memalign(&data, kBufferAlignment, length ? length : 1) != 0) {
      throw DeviceError("metal-sim: cannot allocate a buffer of " + std::to_string(length) + " bytes");
    }
    std::memset(data, 0, length);
    return std::make_shared<SimBuffer>(data, length, true);
  }

  std::shared_ptr<Buffer> create_wrapped(void* data, size_t length) override {
    return std::make_shared<SimBuffer>(data, length, false);
  }

  std::shared_ptr<Pipeline> create_pipeline(const std::string& kernel_name, const FunctionConstants& constants) override {
    const KernelInfo* kernel = metal_sim::find_kernel(kernels_, kernel_name);
    if (!kernel) throw DeviceError("metal-sim: no kernel named '" + kernel_name + "'");
    std::vector<metal_sim::ConstantValue> values;
    for (const FunctionConstants::Value& v : constants.values()) {
      const auto type = metal_sim::ConstantType(int(v.type));
      for (unsigned i = 0; i < kernel->constant_count; ++i) {
        const metal_sim::FunctionConstantSpec& spec = kernel->constants[i];
        if (spec.index == v.index && spec.type != type) {
          throw DeviceError("metal-sim: kernel '" + kernel_name + "': function constant '" + spec.name + "' (index " +
                            std::to_string(v.index) + ") is " + type_name(spec.type) + ", given a " + type_name(type));
        }
      }
      values.push_back(metal_sim::ConstantValue{v.index, type, v.bits});
    }
    return std::make_shared<SimPipeline>(*kernel, std::move(values));
  }

  std::unique_ptr<CommandBuffer> create_command_buffer() override {
    return std::make_unique<SimCommandBuffer>(executor_, reverse_, recoverable_faults_);
  }

 private:
  metal_sim::KernelLibrary kernels_;
  std::shared_ptr<metal_sim::Executor> executor_;
  bool reverse_ = false;
  bool recoverable_faults_ = false;
};

}  // namespace

std::unique_ptr<Device> create_sim_device(const metal_sim::KernelLibrary& kernels, const SimDeviceOptions& options) {
  return std::make_unique<SimDevice>(kernels, options);
}

}  // namespace metalnn::gpu
