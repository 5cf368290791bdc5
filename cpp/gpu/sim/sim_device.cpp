// metal-sim device: buffers are plain host memory, a pipeline is a registered kernel plus its
// function-constant values, and a command buffer is a list of dispatches run at commit.
#include "gpu/sim/sim_device.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "gpu/sim/runtime/address_sanitizer.h"
#include "gpu/sim/runtime/executor.h"

namespace metalnn::gpu {
namespace {

using metal_sim::KernelInfo;
using metal_sim::ParamKind;

constexpr size_t kBufferAlignment = 16384;  // page-aligned, like Metal's shared buffers on Apple silicon
constexpr size_t kMaxSetBytes = 4096;

class SimBuffer : public Buffer {
 public:
  // `capacity`: the bytes allocated from `data`, at least `length`. Under AddressSanitizer the bytes
  // past `length` are poisoned, so that it reports an overrun as it would past a buffer of `length`.
  SimBuffer(void* data, size_t length, size_t capacity, bool owned)
      : data_(data), length_(length), capacity_(capacity), owned_(owned) {
#ifdef MSIM_ASAN
    if (owned_) ASAN_POISON_MEMORY_REGION(static_cast<char*>(data_) + length_, capacity_ - length_);
#endif
  }
  ~SimBuffer() override {
#ifdef MSIM_ASAN
    if (owned_) ASAN_UNPOISON_MEMORY_REGION(static_cast<char*>(data_) + length_, capacity_ - length_);
#endif
    if (owned_) std::free(data_);
  }
  void* contents() override { return data_; }
  size_t length() const override { return length_; }
  size_t capacity() const { return capacity_; }

 private:
  void* data_;
  size_t length_;
  size_t capacity_;
  bool owned_;
};

class SimPipeline : public Pipeline {
 public:
  SimPipeline(const KernelInfo& kernel, const KernelInfo* racecheck, std::vector<metal_sim::ConstantValue> constants)
      : kernel_(kernel), racecheck_(racecheck), name_(kernel.host_name), constants_(std::move(constants)) {}
  const std::string& kernel_name() const override { return name_; }
  uint32_t max_total_threads_per_threadgroup() const override {
    return kernel_.max_total_threads ? kernel_.max_total_threads : metal_sim::kMaxThreadsPerThreadgroup;
  }
  uint32_t thread_execution_width() const override { return metal_sim::kSimdWidth; }
  const KernelInfo& kernel() const { return kernel_; }
  const KernelInfo* racecheck() const { return racecheck_; }
  const std::vector<metal_sim::ConstantValue>& constants() const { return constants_; }

 private:
  const KernelInfo& kernel_;
  const KernelInfo* racecheck_;
  std::string name_;
  std::vector<metal_sim::ConstantValue> constants_;
};

class SimCommandBuffer : public CommandBuffer {
 public:
  SimCommandBuffer(std::shared_ptr<metal_sim::Executor> executor, const SimDeviceOptions& options)
      : executor_(std::move(executor)), options_(options) {}

  void set_pipeline(const Pipeline& pipeline) override { pipeline_ = static_cast<const SimPipeline*>(&pipeline); }

  void set_buffer(const Buffer& buffer, size_t offset, size_t length, uint32_t index) override {
    check_index(index, "set_buffer");
    if (offset > buffer.length()) fail("set_buffer: offset " + std::to_string(offset) + " is past the buffer's end");
    if (length > buffer.length() - offset) {
      fail("set_buffer: " + std::to_string(length) + " bytes at offset " + std::to_string(offset) + " pass the end of a " +
           std::to_string(buffer.length()) + "-byte buffer");
    }
    char* contents = static_cast<char*>(const_cast<Buffer&>(buffer).contents());
    bindings_[index] = contents + offset;
    lengths_[index] = length;
    allocations_[index] = contents;
    allocation_lengths_[index] = static_cast<const SimBuffer&>(buffer).capacity();
  }

  void set_bytes(const void* data, size_t length, uint32_t index) override {
    check_index(index, "set_bytes");
    if (length > kMaxSetBytes) fail("set_bytes: " + std::to_string(length) + " bytes, at most 4096 allowed");
    bytes_.emplace_back(new unsigned char[length ? length : 1]);
    std::memcpy(bytes_.back().get(), data, length);
    bindings_[index] = bytes_.back().get();
    lengths_[index] = length;
    allocations_[index] = nullptr;
    allocation_lengths_[index] = 0;
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
    if (options_.race_check) {
      if (!pipeline_->racecheck()) {
        fail(where + "cannot be race-checked: it has no race-check copy (product kernels lack one when built with "
                     "METALNN_SANITIZE or METALNN_SIM_RACECHECK=OFF; a metalnn.metal_kernel has one when "
                     "METALNN_SIM_RACECHECK=1 is set before it is first called)");
      }
      d.kernel = pipeline_->racecheck();
    }
    d.threadgroups[0] = groups.x, d.threadgroups[1] = groups.y, d.threadgroups[2] = groups.z;
    d.threads_per_threadgroup[0] = threads.x, d.threads_per_threadgroup[1] = threads.y;
    d.threads_per_threadgroup[2] = threads.z;
    d.reverse_order = options_.reverse_thread_order;
    d.throw_faults = options_.recoverable_faults;
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
        d.buffer_lengths[p.index] = bindings_[p.index] ? lengths_[p.index] : 0;
        d.allocations[p.index] = bindings_[p.index] ? allocations_[p.index] : nullptr;
        d.allocation_lengths[p.index] = bindings_[p.index] ? allocation_lengths_[p.index] : 0;
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

  void barrier() override { interval_starts_.push_back(dispatches_.size()); }

  void commit_and_wait() override {
    if (committed_) fail("commit_and_wait called twice on one command buffer");
    committed_ = true;
    interval_starts_.push_back(dispatches_.size());
    size_t begin = 0;
    try {
      for (size_t interval = 0; interval < interval_starts_.size(); ++interval) {
        const size_t end = interval_starts_[interval];
        if (end > begin) run_interval(begin, end, interval);
        begin = end;
      }
    } catch (const metal_sim::KernelFault& e) {
      fail(e.what());
    }
  }

 private:
  [[noreturn]] static void fail(const std::string& message) { throw DeviceError("metal-sim: " + message); }
  static void check_index(uint32_t index, const char* what) {
    if (index >= metal_sim::kMaxBufferBindings) fail(std::string(what) + ": index " + std::to_string(index) + " >= 31");
  }

  // The dispatches [begin, end) between two barriers, in an order a GPU may choose; with the race
  // checker, two of them touching one byte (one writing) is a missing barrier.
  void run_interval(size_t begin, size_t end, size_t interval) {
    std::vector<size_t> order(end - begin);
    std::iota(order.begin(), order.end(), begin);
    if (options_.dispatch_order_seed == 0) {
      std::reverse(order.begin(), order.end());
    } else {
      std::mt19937_64 random(options_.dispatch_order_seed + interval);
      std::shuffle(order.begin(), order.end(), random);
    }
    std::vector<std::pair<size_t, std::unique_ptr<metal_sim::DispatchRaceLog>>> done;
    for (size_t i : order) {
      metal_sim::DispatchDesc& d = dispatches_[i];
      if (!options_.race_check) {
        executor_->run(d);
        continue;
      }
      auto log = std::make_unique<metal_sim::DispatchRaceLog>();
      d.race = log.get();
      executor_->run(d);
      log->finish(d);
      d.race = nullptr;
      if (!log->error().empty()) throw DeviceError("metal-sim race check: " + log->error());
      for (const auto& [j, other] : done) check_pair(j, *other, i, *log);
      done.emplace_back(i, std::move(log));
    }
  }

  void check_pair(size_t a, const metal_sim::DispatchRaceLog& la, size_t b, const metal_sim::DispatchRaceLog& lb) {
    const metal_sim::Footprint& fa = la.footprint();
    const metal_sim::Footprint& fb = lb.footprint();
    struct Case { const std::vector<metal_sim::AccessRange>* x; const char* xk; const std::vector<metal_sim::AccessRange>* y; const char* yk; };
    const Case cases[] = {{&fa.writes, "writes", &fb.writes, "writes"},
                          {&fa.writes, "writes", &fb.reads, "reads"},
                          {&fa.reads, "reads", &fb.writes, "writes"}};
    for (const Case& c : cases) {
      metal_sim::AccessRange ra, rb;
      if (!metal_sim::first_overlap(*c.x, *c.y, &ra, &rb)) continue;
      const uintptr_t lo = std::max(ra.begin, rb.begin), hi = std::min(ra.end, rb.end);
      const metal_sim::DispatchDesc& da = dispatches_[std::min(a, b)];
      const metal_sim::DispatchDesc& db = dispatches_[std::max(a, b)];
      const bool swap = a > b;
      const char* ka = swap ? c.yk : c.xk;
      const char* kb = swap ? c.xk : c.yk;
      const metal_sim::AccessRange& first = swap ? rb : ra;
      const metal_sim::AccessRange& second = swap ? ra : rb;
      throw DeviceError("metal-sim race check: dispatches " + std::to_string(std::min(a, b)) + " (kernel '" +
                        da.kernel->host_name + "') and " + std::to_string(std::max(a, b)) + " (kernel '" +
                        db.kernel->host_name + "') of one command buffer have no barrier between them, yet the first " +
                        ka + " " + metal_sim::describe_device_bytes(da, lo, hi) + " (" +
                        metal_sim::describe_thread(da, first.group, first.thread) + " at " +
                        metal_sim::source_line(first.pc) + ") and the second " + kb + " " +
                        metal_sim::describe_device_bytes(db, lo, hi) + " (" +
                        metal_sim::describe_thread(db, second.group, second.thread) + " at " +
                        metal_sim::source_line(second.pc) + ")");
    }
  }

  std::shared_ptr<metal_sim::Executor> executor_;
  SimDeviceOptions options_;
  bool committed_ = false;
  std::vector<size_t> interval_starts_;  // dispatch count at each barrier
  size_t lengths_[metal_sim::kMaxBufferBindings] = {};
  void* allocations_[metal_sim::kMaxBufferBindings] = {};
  size_t allocation_lengths_[metal_sim::kMaxBufferBindings] = {};
  const SimPipeline* pipeline_ = nullptr;
  void* bindings_[metal_sim::kMaxBufferBindings] = {};
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
    options_ = options;
    auto env_is_1 = [](const char* name) {
      const char* env = std::getenv(name);
      return env && std::strcmp(env, "1") == 0;
    };
    options_.reverse_thread_order = options.reverse_thread_order || env_is_1("METALNN_SIM_REVERSE");
    options_.race_check = options.race_check || env_is_1("METALNN_SIM_RACECHECK");
    options_.dispatch_order_seed = options.dispatch_order_seed;
    if (const char* seed = std::getenv("METALNN_SIM_DISPATCH_SEED")) {
      options_.dispatch_order_seed = std::strtoull(seed, nullptr, 10);
    }
    options_.recoverable_faults = options.recoverable_faults;
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
    // Whole pages, with at least one byte past the end: an overrun of the buffer lands in memory the
    // race-check pass knows is this buffer's and reports.
    if (length > SIZE_MAX - 2 * kBufferAlignment) {
      throw DeviceError("metal-sim: cannot allocate a buffer of " + std::to_string(length) + " bytes");
    }
    const size_t capacity = (length / kBufferAlignment + 1) * kBufferAlignment;
    void* data = nullptr;
    if (posix_memalign(&data, kBufferAlignment, capacity) != 0) {
      throw DeviceError("metal-sim: cannot allocate a buffer of " + std::to_string(length) + " bytes");
    }
    std::memset(data, 0, capacity);
    return std::make_shared<SimBuffer>(data, length, capacity, true);
  }

  std::shared_ptr<Buffer> create_wrapped(void* data, size_t length) override {
    return std::make_shared<SimBuffer>(data, length, length, false);
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
    return std::make_shared<SimPipeline>(*kernel, metal_sim::racecheck_copy(kernels_, kernel), std::move(values));
  }

  std::unique_ptr<CommandBuffer> create_command_buffer() override {
    return std::make_unique<SimCommandBuffer>(executor_, options_);
  }

 private:
  metal_sim::KernelLibrary kernels_;
  std::shared_ptr<metal_sim::Executor> executor_;
  SimDeviceOptions options_;
};

}  // namespace

std::unique_ptr<Device> create_sim_device(const metal_sim::KernelLibrary& kernels, const SimDeviceOptions& options) {
  return std::make_unique<SimDevice>(kernels, options);
}

}  // namespace metalnn::gpu
