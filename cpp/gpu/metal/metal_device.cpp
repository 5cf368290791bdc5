// metal-cpp adapter: buffers are MTLStorageModeShared, a pipeline is an MTLComputePipelineState
// built from the embedded metallib with function constants, a command buffer holds one concurrent
// compute encoder whose barriers are memoryBarrier(buffers). The only GPU code CI cannot run.
#define NS_PRIVATE_IMPLEMENTATION
#define MTL_PRIVATE_IMPLEMENTATION
#include <Foundation/Foundation.hpp>
#include <Metal/Metal.hpp>
#include <dispatch/dispatch.h>
#include <unistd.h>

#include <string>

#include "core/error.h"
#include "gpu/metal/metal_device.h"

// The metallib of metal/*.metal, embedded by cmake/metal.cmake.
extern const unsigned char metalnn_metallib[];
extern const size_t metalnn_metallib_size;

namespace metalnn::gpu {
namespace {

[[noreturn]] void fail(const std::string& what, NS::Error* error) {
  std::string message = "metal: " + what;
  if (error && error->localizedDescription()) message += ": " + std::string(error->localizedDescription()->utf8String());
  throw DeviceError(message);
}

NS::String* ns_string(const std::string& s) { return NS::String::string(s.c_str(), NS::UTF8StringEncoding); }

class MetalBuffer : public Buffer {
 public:
  MetalBuffer(MTL::Buffer* buffer, size_t length) : buffer_(buffer), length_(length) {}
  ~MetalBuffer() override { buffer_->release(); }
  void* contents() override { return buffer_->contents(); }
  size_t length() const override { return length_; }  // wrapped buffers are rounded up to a page
  MTL::Buffer* get() const { return buffer_; }

 private:
  MTL::Buffer* buffer_;
  size_t length_;
};

class MetalPipeline : public Pipeline {
 public:
  MetalPipeline(MTL::ComputePipelineState* state, std::string name) : state_(state), name_(std::move(name)) {}
  ~MetalPipeline() override { state_->release(); }
  const std::string& kernel_name() const override { return name_; }
  uint32_t max_total_threads_per_threadgroup() const override { return uint32_t(state_->maxTotalThreadsPerThreadgroup()); }
  uint32_t thread_execution_width() const override { return uint32_t(state_->threadExecutionWidth()); }
  MTL::ComputePipelineState* get() const { return state_; }

 private:
  MTL::ComputePipelineState* state_;
  std::string name_;
};

class MetalCommandBuffer : public CommandBuffer {
 public:
  explicit MetalCommandBuffer(MTL::CommandQueue* queue) : pool_(NS::AutoreleasePool::alloc()->init()) {
    buffer_ = queue->commandBuffer()->retain();
    encoder_ = buffer_->computeCommandEncoder(MTL::DispatchTypeConcurrent)->retain();
  }
  ~MetalCommandBuffer() override {
    if (encoder_) encoder_->release();
    buffer_->release();
    pool_->release();
  }
  void set_pipeline(const Pipeline& p) override {
    encoder_->setComputePipelineState(static_cast<const MetalPipeline&>(p).get());
  }
  void set_buffer(const Buffer& b, size_t offset, uint32_t index) override {
    encoder_->setBuffer(static_cast<const MetalBuffer&>(b).get(), offset, index);
  }
  void set_bytes(const void* data, size_t length, uint32_t index) override { encoder_->setBytes(data, length, index); }
  void set_threadgroup_memory(size_t length, uint32_t index) override {
    encoder_->setThreadgroupMemoryLength((length + 15) / 16 * 16, index);
  }
  void dispatch(Size3 g, Size3 t) override {
    encoder_->dispatchThreadgroups(MTL::Size(g.x, g.y, g.z), MTL::Size(t.x, t.y, t.z));
  }
  void barrier() override { encoder_->memoryBarrier(MTL::BarrierScopeBuffers); }
  void commit_and_wait() override {
    encoder_->endEncoding();
    encoder_->release();
    encoder_ = nullptr;
    buffer_->commit();
    buffer_->waitUntilCompleted();
    if (buffer_->status() == MTL::CommandBufferStatusError) fail("command buffer failed", buffer_->error());
  }

 private:
  NS::AutoreleasePool* pool_;
  MTL::CommandBuffer* buffer_;
  MTL::ComputeCommandEncoder* encoder_;
};

class MetalDevice : public Device {
 public:
  explicit MetalDevice(MTL::Device* device) : device_(device), queue_(device->newCommandQueue()) {
    NS::AutoreleasePool* pool = NS::AutoreleasePool::alloc()->init();
    dispatch_data_t data = dispatch_data_create(metalnn_metallib, metalnn_metallib_size, nullptr, DISPATCH_DATA_DESTRUCTOR_DEFAULT);
    NS::Error* error = nullptr;
    library_ = device_->newLibrary(data, &error);
    dispatch_release(data);
    if (!library_) {
      pool->release();
      fail("cannot load the embedded metallib", error);
    }
    pool->release();
  }
  ~MetalDevice() override {
    library_->release();
    queue_->release();
    device_->release();
  }

  std::string name() const override { return "metal"; }
  DeviceLimits limits() const override {
    DeviceLimits l;
    l.max_threads_per_threadgroup = uint32_t(device_->maxThreadsPerThreadgroup().width);
    l.max_threadgroup_memory = device_->maxThreadgroupMemoryLength();
    return l;
  }

 protected:
  std::shared_ptr<Buffer> create_buffer(size_t length) override {
    MTL::Buffer* b = device_->newBuffer(length ? length : 1, MTL::ResourceStorageModeShared);
    if (!b) throw DeviceError("metal: cannot allocate a buffer of " + std::to_string(length) + " bytes");
    std::memset(b->contents(), 0, length);
    return std::make_shared<MetalBuffer>(b, length);
  }

  // Page-aligned memory is wrapped whole pages at a time (the pages are mapped, so reading past the
  // caller's end stays inside them); anything else is left to the caller to copy.
  std::shared_ptr<Buffer> create_wrapped(void* data, size_t length) override {
    const size_t page = size_t(getpagesize());
    if (reinterpret_cast<uintptr_t>(data) % page != 0 || length == 0) return nullptr;
    const size_t rounded = (length + page - 1) / page * page;
    MTL::Buffer* b = device_->newBuffer(data, rounded, MTL::ResourceStorageModeShared, nullptr);
    return b ? std::make_shared<MetalBuffer>(b, length) : nullptr;
  }

  std::shared_ptr<Pipeline> create_pipeline(const std::string& kernel_name, const FunctionConstants& constants) override {
    NS::AutoreleasePool* pool = NS::AutoreleasePool::alloc()->init();
    MTL::FunctionConstantValues* values = MTL::FunctionConstantValues::alloc()->init();
    static const MTL::DataType kTypes[] = {MTL::DataTypeBool,  MTL::DataTypeInt,   MTL::DataTypeUInt,
                                           MTL::DataTypeShort, MTL::DataTypeUShort, MTL::DataTypeChar,
                                           MTL::DataTypeUChar, MTL::DataTypeFloat, MTL::DataTypeHalf};
    for (const FunctionConstants::Value& v : constants.values())
      values->setConstantValue(&v.bits, kTypes[int(v.type)], v.index);  // little-endian: low bytes first
    NS::Error* error = nullptr;
    MTL::Function* function = library_->newFunction(ns_string(kernel_name), values, &error);
    values->release();
    if (!function) {
      pool->release();
      fail("no kernel named '" + kernel_name + "'", error);
    }
    MTL::ComputePipelineState* state = device_->newComputePipelineState(function, &error);
    function->release();
    pool->release();
    if (!state) fail("cannot build the pipeline of '" + kernel_name + "'", error);
    return std::make_shared<MetalPipeline>(state, kernel_name);
  }

  std::unique_ptr<CommandBuffer> create_command_buffer() override { return std::make_unique<MetalCommandBuffer>(queue_); }

 private:
  MTL::Device* device_;
  MTL::CommandQueue* queue_;
  MTL::Library* library_ = nullptr;
};

}  // namespace

std::unique_ptr<Device> create_metal_device() {
  MTL::Device* device = MTL::CreateSystemDefaultDevice();
  if (!device) return nullptr;
  return std::make_unique<MetalDevice>(device);
}

}  // namespace metalnn::gpu
