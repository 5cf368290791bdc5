// The GPU device interface shared by `metal` (cpp/gpu/metal/, metal-cpp) and `metal-sim`
// (cpp/gpu/sim/): buffers, compute pipelines by kernel name + function constants, and command
// buffers that record every dispatch of an inference and are committed once. No Metal types here.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace metalnn::gpu {

struct Size3 {
  uint32_t x = 1, y = 1, z = 1;
};

// Values for a kernel's [[function_constant(index)]] declarations (MTLFunctionConstantValues).
class FunctionConstants {
 public:
  enum class Type : uint8_t { kBool, kInt, kUInt, kShort, kUShort, kChar, kUChar, kFloat, kHalf };
  struct Value {
    uint32_t index;
    Type type;
    uint32_t bits;  // the value's bit pattern, zero-extended (half: IEEE binary16 bits)
  };

  FunctionConstants& set_bool(uint32_t index, bool value);
  FunctionConstants& set_int(uint32_t index, int32_t value);
  FunctionConstants& set_uint(uint32_t index, uint32_t value);
  FunctionConstants& set_float(uint32_t index, float value);
  FunctionConstants& set(uint32_t index, Type type, uint32_t bits);

  const std::vector<Value>& values() const { return values_; }  // sorted by index
  // Canonical text of the values, e.g. "0:b1,3:f3f800000": with the kernel name, a cache key.
  std::string key() const;

 private:
  std::vector<Value> values_;
};

// Memory shared by CPU and GPU (MTLStorageModeShared).
class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual void* contents() = 0;
  virtual size_t length() const = 0;
};

class Pipeline {
 public:
  virtual ~Pipeline() = default;
  virtual const std::string& kernel_name() const = 0;
  virtual uint32_t max_total_threads_per_threadgroup() const = 0;
  virtual uint32_t thread_execution_width() const = 0;
};

// Records compute work; nothing runs before commit_and_wait(). Buffers and pipelines passed in must
// outlive commit_and_wait(). Bindings persist across dispatches, as in a Metal compute encoder.
class CommandBuffer {
 public:
  virtual ~CommandBuffer() = default;
  virtual void set_pipeline(const Pipeline& pipeline) = 0;
  // `length`: the bytes from `offset` the next dispatches may touch (the bound tensor). Metal has no
  // such bound; metal-sim's race-check pass faults on an access outside it, as a tensor overrun into
  // its neighbour in an arena is invisible to a GPU and to AddressSanitizer alike.
  virtual void set_buffer(const Buffer& buffer, size_t offset, size_t length, uint32_t index) = 0;
  // Small argument data (at most 4 KiB), copied when called.
  virtual void set_bytes(const void* data, size_t length, uint32_t index) = 0;
  // Length of the [[threadgroup(index)]] memory the next dispatches get.
  virtual void set_threadgroup_memory(size_t length, uint32_t index) = 0;
  virtual void dispatch(Size3 threadgroups, Size3 threads_per_threadgroup) = 0;
  // `threads` threads in all (dispatchThreads): threadgroups at the grid's far edges are smaller.
  virtual void dispatch_threads(Size3 threads, Size3 threads_per_threadgroup) = 0;
  // Dispatches after the barrier see all buffer writes of the dispatches before it.
  virtual void barrier() = 0;
  // Runs everything recorded; throws metalnn::DeviceError if the device reports a failure.
  virtual void commit_and_wait() = 0;
};

struct DeviceLimits {
  uint32_t max_threads_per_threadgroup = 1024;
  size_t max_threadgroup_memory = 32768;
  // Threads per SIMD-group, as the device reports it: the lowering sizes SIMD-group dispatches by it,
  // and every pipeline's thread_execution_width() must equal it.
  uint32_t simd_width = 32;
  size_t buffer_alignment = 256;  // offsets of set_buffer for vector loads
  // Largest matrix product (multiply-adds per dispatch) worth giving the simdgroup-matrix GEMM;
  // 0: no limit. Set where those operations cost far more than on a GPU (metal-sim).
  uint64_t simdgroup_matrix_max_macs = 0;
};

// What a device says about itself (`metalnn doctor`, error messages).
struct DeviceInfo {
  std::string gpu;      // the GPU's name, e.g. "Apple M2"
  std::string family;   // the newest GPU family it supports, e.g. "Apple8"
  std::string library;  // where its kernels come from
};

// What a device has created: lets tests check that an inference uses one command buffer and that
// pipelines are built once.
struct DeviceCounters {
  uint64_t buffers_created = 0;
  uint64_t pipelines_created = 0;
  uint64_t command_buffers_created = 0;
};

class Device {
 public:
  virtual ~Device() = default;

  virtual std::string name() const = 0;
  virtual DeviceLimits limits() const = 0;
  virtual DeviceInfo info() const = 0;
  // Host names of every kernel in the device's library.
  virtual std::vector<std::string> kernel_names() const = 0;

  // A zero-filled shared buffer.
  std::shared_ptr<Buffer> new_buffer(size_t length);
  // Wraps caller memory without copying (must outlive the buffer); nullptr when this device cannot
  // (Metal needs page-aligned memory), in which case the caller copies into new_buffer().
  std::shared_ptr<Buffer> wrap_memory(void* data, size_t length);
  // Builds a compute pipeline; throws metalnn::DeviceError for an unknown kernel. Not cached here:
  // callers keep a cache keyed by kernel name + constants.key().
  std::shared_ptr<Pipeline> new_pipeline(const std::string& kernel_name, const FunctionConstants& constants = {});
  std::unique_ptr<CommandBuffer> new_command_buffer();

  DeviceCounters counters() const;

 protected:
  virtual std::shared_ptr<Buffer> create_buffer(size_t length) = 0;
  virtual std::shared_ptr<Buffer> create_wrapped(void* data, size_t length) = 0;
  virtual std::shared_ptr<Pipeline> create_pipeline(const std::string& kernel_name,
                                                    const FunctionConstants& constants) = 0;
  virtual std::unique_ptr<CommandBuffer> create_command_buffer() = 0;

 private:
  std::atomic<uint64_t> buffers_created_{0};
  std::atomic<uint64_t> pipelines_created_{0};
  std::atomic<uint64_t> command_buffers_created_{0};
};

// Small shared pieces, inline so either device implementation links without another source file.

inline FunctionConstants& FunctionConstants::set(uint32_t index, Type type, uint32_t bits) {
  auto it = std::lower_bound(values_.begin(), values_.end(), index,
                             [](const Value& v, uint32_t i) { return v.index < i; });
  if (it != values_.end() && it->index == index) {
    *it = Value{index, type, bits};
  } else {
    values_.insert(it, Value{index, type, bits});
  }
  return *this;
}
inline FunctionConstants& FunctionConstants::set_bool(uint32_t index, bool value) {
  return set(index, Type::kBool, value ? 1u : 0u);
}
inline FunctionConstants& FunctionConstants::set_int(uint32_t index, int32_t value) {
  return set(index, Type::kInt, uint32_t(value));
}
inline FunctionConstants& FunctionConstants::set_uint(uint32_t index, uint32_t value) {
  return set(index, Type::kUInt, value);
}
inline FunctionConstants& FunctionConstants::set_float(uint32_t index, float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return set(index, Type::kFloat, bits);
}
inline std::string FunctionConstants::key() const {
  static const char kTypeCodes[] = "bisSucCfh";
  std::string key;
  char hex[12];
  for (const Value& v : values_) {
    if (!key.empty()) key += ',';
    key += std::to_string(v.index) + ':' + kTypeCodes[int(v.type)];
    for (int shift = 28, i = 0; shift >= 0; shift -= 4) hex[i++] = "0123456789abcdef"[(v.bits >> shift) & 15], hex[i] = 0;
    key += hex;
  }
  return key;
}

inline std::shared_ptr<Buffer> Device::new_buffer(size_t length) {
  ++buffers_created_;
  return create_buffer(length);
}
inline std::shared_ptr<Buffer> Device::wrap_memory(void* data, size_t length) {
  auto buffer = create_wrapped(data, length);
  if (buffer) ++buffers_created_;
  return buffer;
}
inline std::shared_ptr<Pipeline> Device::new_pipeline(const std::string& kernel_name,
                                                      const FunctionConstants& constants) {
  auto pipeline = create_pipeline(kernel_name, constants);
  ++pipelines_created_;
  return pipeline;
}
inline std::unique_ptr<CommandBuffer> Device::new_command_buffer() {
  ++command_buffers_created_;
  return create_command_buffer();
}
inline DeviceCounters Device::counters() const {
  return DeviceCounters{buffers_created_.load(), pipelines_created_.load(), command_buffers_created_.load()};
}

}  // namespace metalnn::gpu
