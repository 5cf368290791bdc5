// metal-cpp adapter: buffers are MTLStorageModeShared, a pipeline is an MTLComputePipelineState
// built from the embedded metallib with function constants, a command buffer holds one concurrent
// compute encoder whose barriers are memoryBarrier(buffers). The only GPU code CI cannot run.
// Every Metal object is owned by an NS::SharedPtr and every autoreleased one lives in a scoped
// pool, so an exception anywhere releases what was made and never reads a drained object.
// metal-cpp's selector and class definitions are compiled separately (metal_cpp_impl.cpp).
#include <Foundation/Foundation.hpp>
#include <Metal/Metal.hpp>
#include <dispatch/dispatch.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "gpu/metal/metal_device.h"

// The metallib of metal/*.metal, embedded by cmake/metal.cmake.
extern const unsigned char metalnn_metallib[];
extern const size_t metalnn_metallib_size;

namespace metalnn::gpu {
namespace {

// Objects autoreleased while it is alive are released when it goes, exceptions included.
class AutoreleaseScope {
 public:
  AutoreleaseScope() : pool_(NS::AutoreleasePool::alloc()->init()) {}
  ~AutoreleaseScope() { pool_->release(); }
  AutoreleaseScope(const AutoreleaseScope&) = delete;
  AutoreleaseScope& operator=(const AutoreleaseScope&) = delete;

 private:
  NS::AutoreleasePool* pool_;
};

// NSErrors come back autoreleased: callers read them inside the AutoreleaseScope that holds them.
std::string describe(NS::Error* error) {
  if (!error) return "";
  NS::String* text = error->localizedDescription();
  return text && text->utf8String() ? std::string(": ") + text->utf8String() : std::string();
}

std::string utf8(NS::String* s) { return s && s->utf8String() ? s->utf8String() : ""; }

NS::String* ns_string(const std::string& s) { return NS::String::string(s.c_str(), NS::UTF8StringEncoding); }

class MetalBuffer : public Buffer {
 public:
  MetalBuffer(NS::SharedPtr<MTL::Buffer> buffer, size_t length) : buffer_(std::move(buffer)), length_(length) {}
  void* contents() override { return buffer_->contents(); }
  size_t length() const override { return length_; }  // wrapped buffers are rounded up to a page
  MTL::Buffer* get() const { return buffer_.get(); }

 private:
  NS::SharedPtr<MTL::Buffer> buffer_;
  size_t length_;
};

class MetalPipeline : public Pipeline {
 public:
  MetalPipeline(NS::SharedPtr<MTL::ComputePipelineState> state, std::string name)
      : state_(std::move(state)), name_(std::move(name)) {}
  const std::string& kernel_name() const override { return name_; }
  uint32_t max_total_threads_per_threadgroup() const override { return uint32_t(state_->maxTotalThreadsPerThreadgroup()); }
  uint32_t thread_execution_width() const override { return uint32_t(state_->threadExecutionWidth()); }
  MTL::ComputePipelineState* get() const { return state_.get(); }

 private:
  NS::SharedPtr<MTL::ComputePipelineState> state_;
  std::string name_;
};

// Metal aborts the process when an encoder is released before endEncoding(), so the encoder is
// ended on every path out, including an exception thrown while encoding.
class MetalCommandBuffer : public CommandBuffer {
 public:
  explicit MetalCommandBuffer(MTL::CommandQueue* queue) {
    AutoreleaseScope scope;
    buffer_ = NS::RetainPtr(queue->commandBuffer());
    if (!buffer_) throw DeviceError("metal: cannot create a command buffer");
    encoder_ = NS::RetainPtr(buffer_->computeCommandEncoder(MTL::DispatchTypeConcurrent));
    if (!encoder_) throw DeviceError("metal: cannot create a compute command encoder");
  }
  ~MetalCommandBuffer() override { end_encoding(); }

  void set_pipeline(const Pipeline& p) override {
    encoder_->setComputePipelineState(static_cast<const MetalPipeline&>(p).get());
  }
  void set_buffer(const Buffer& b, size_t offset, size_t /*length*/, uint32_t index) override {
    encoder_->setBuffer(static_cast<const MetalBuffer&>(b).get(), offset, index);
  }
  void set_bytes(const void* data, size_t length, uint32_t index) override { encoder_->setBytes(data, length, index); }
  void set_threadgroup_memory(size_t length, uint32_t index) override {
    encoder_->setThreadgroupMemoryLength((length + 15) / 16 * 16, index);
  }
  void dispatch(Size3 g, Size3 t) override {
    encoder_->dispatchThreadgroups(MTL::Size(g.x, g.y, g.z), MTL::Size(t.x, t.y, t.z));
  }
  void dispatch_threads(Size3 n, Size3 t) override {
    encoder_->dispatchThreads(MTL::Size(n.x, n.y, n.z), MTL::Size(t.x, t.y, t.z));
  }
  void barrier() override { encoder_->memoryBarrier(MTL::BarrierScopeBuffers); }
  void commit_and_wait() override {
    if (ended_) throw DeviceError("metal: commit_and_wait called twice on one command buffer");
    end_encoding();
    AutoreleaseScope scope;
    buffer_->commit();
    buffer_->waitUntilCompleted();
    if (buffer_->status() == MTL::CommandBufferStatusError)
      throw DeviceError("metal: command buffer failed" + describe(buffer_->error()));
  }

 private:
  void end_encoding() {
    if (ended_) return;
    ended_ = true;
    encoder_->endEncoding();
  }

  NS::SharedPtr<MTL::CommandBuffer> buffer_;
  NS::SharedPtr<MTL::ComputeCommandEncoder> encoder_;
  bool ended_ = false;
};

// The newest Apple GPU family the device supports, for reports.
std::string apple_family(MTL::Device* device) {
  static const std::pair<MTL::GPUFamily, const char*> kFamilies[] = {
      {MTL::GPUFamilyApple9, "Apple9"}, {MTL::GPUFamilyApple8, "Apple8"}, {MTL::GPUFamilyApple7, "Apple7"},
      {MTL::GPUFamilyApple6, "Apple6"}, {MTL::GPUFamilyMac2, "Mac2"}};
  for (const auto& [family, name] : kFamilies)
    if (device->supportsFamily(family)) return name;
  return "older than Apple6 / Mac2";
}

class MetalDevice : public Device {
 public:
  // Throws DeviceError (after releasing what it made) when the GPU lacks what the kernels need or
  // the metallib does not load.
  // `source` empty: the embedded metallib; otherwise MSL source compiled now.
  MetalDevice(NS::SharedPtr<MTL::Device> device, const std::string& source) : device_(std::move(device)) {
    AutoreleaseScope scope;
    gpu_ = utf8(device_->name());
    family_ = apple_family(device_.get());
    // Apple7 (M1, A14 and later) has the SIMD-group reductions and simdgroup_matrix the kernels use.
    if (!device_->supportsFamily(MTL::GPUFamilyApple7))
      throw DeviceError("GPU '" + gpu_ + "' (family " + family_ + ") does not support MTLGPUFamilyApple7 (Apple M1 / " +
                        "A14 or later), which the kernels need for SIMD-group reductions and simdgroup_matrix");
    queue_ = NS::TransferPtr(device_->newCommandQueue());
    if (!queue_) throw DeviceError("GPU '" + gpu_ + "': cannot create a command queue");
    NS::Error* error = nullptr;
    if (source.empty()) {
      dispatch_data_t data =
          dispatch_data_create(metalnn_metallib, metalnn_metallib_size, nullptr, DISPATCH_DATA_DESTRUCTOR_DEFAULT);
      library_ = NS::TransferPtr(device_->newLibrary(data, &error));
      dispatch_release(data);
      if (!library_) throw DeviceError("GPU '" + gpu_ + "': cannot load the embedded metallib" + describe(error));
      library_description_ = "embedded metallib (" + std::to_string(metalnn_metallib_size) + " bytes)";
    } else {
      auto options = NS::TransferPtr(MTL::CompileOptions::alloc()->init());
      options->setLanguageVersion(MTL::LanguageVersion3_0);  // what the embedded metallib is built as
      library_ = NS::TransferPtr(device_->newLibrary(ns_string(source), options.get(), &error));
      if (!library_) throw KernelSourceError("metal: the kernel source does not compile" + describe(error));
      library_description_ = "MSL source compiled at run time";
    }
    // The device has no SIMD-width property: a pipeline's threadExecutionWidth is it. check_dispatch
    // (cpp/gpu/lowering.h) holds every pipeline to this value.
    const std::vector<std::string> kernels = kernel_names();
    if (kernels.empty()) throw KernelSourceError("GPU '" + gpu_ + "': " + library_description_ + " has no kernels");
    simd_width_ = static_cast<const MetalPipeline&>(*create_pipeline(kernels.front(), {})).thread_execution_width();
  }

  std::string name() const override { return "metal"; }
  DeviceLimits limits() const override {
    DeviceLimits l;
    l.max_threads_per_threadgroup = uint32_t(device_->maxThreadsPerThreadgroup().width);
    l.max_threadgroup_memory = device_->maxThreadgroupMemoryLength();
    l.simd_width = simd_width_;
    return l;
  }
  DeviceInfo info() const override {
    return DeviceInfo{gpu_, family_, library_description_};
  }
  std::vector<std::string> kernel_names() const override {
    AutoreleaseScope scope;
    std::vector<std::string> names;
    NS::Array* functions = library_->functionNames();
    for (NS::UInteger i = 0; functions && i < functions->count(); ++i)
      names.push_back(utf8(functions->object<NS::String>(i)));
    return names;
  }

 protected:
  std::shared_ptr<Buffer> create_buffer(size_t length) override {
    auto b = NS::TransferPtr(device_->newBuffer(length ? length : 1, MTL::ResourceStorageModeShared));
    if (!b) throw DeviceError("metal: cannot allocate a buffer of " + std::to_string(length) + " bytes");
    std::memset(b->contents(), 0, length);
    return std::make_shared<MetalBuffer>(std::move(b), length);
  }

  // Page-aligned memory is wrapped whole pages at a time (the pages are mapped, so reading past the
  // caller's end stays inside them); anything else is left to the caller to copy.
  std::shared_ptr<Buffer> create_wrapped(void* data, size_t length) override {
    const size_t page = size_t(getpagesize());
    if (reinterpret_cast<uintptr_t>(data) % page != 0 || length == 0) return nullptr;
    const size_t rounded = (length + page - 1) / page * page;
    auto b = NS::TransferPtr(device_->newBuffer(data, rounded, MTL::ResourceStorageModeShared, nullptr));
    return b ? std::make_shared<MetalBuffer>(std::move(b), length) : nullptr;
  }

  std::shared_ptr<Pipeline> create_pipeline(const std::string& kernel_name, const FunctionConstants& constants) override {
    AutoreleaseScope scope;
    auto values = NS::TransferPtr(MTL::FunctionConstantValues::alloc()->init());
    static const MTL::DataType kTypes[] = {MTL::DataTypeBool,  MTL::DataTypeInt,   MTL::DataTypeUInt,
                                           MTL::DataTypeShort, MTL::DataTypeUShort, MTL::DataTypeChar,
                                           MTL::DataTypeUChar, MTL::DataTypeFloat, MTL::DataTypeHalf};
    for (const FunctionConstants::Value& v : constants.values())
      values->setConstantValue(&v.bits, kTypes[int(v.type)], v.index);  // little-endian: low bytes first
    NS::Error* error = nullptr;
    auto function = NS::TransferPtr(library_->newFunction(ns_string(kernel_name), values.get(), &error));
    if (!function) throw DeviceError("metal: no kernel named '" + kernel_name + "'" + describe(error));
    auto state = NS::TransferPtr(device_->newComputePipelineState(function.get(), &error));
    if (!state) throw DeviceError("metal: cannot build the pipeline of '" + kernel_name + "'" + describe(error));
    return std::make_shared<MetalPipeline>(std::move(state), kernel_name);
  }

  std::unique_ptr<CommandBuffer> create_command_buffer() override {
    return std::make_unique<MetalCommandBuffer>(queue_.get());
  }

 private:
  NS::SharedPtr<MTL::Device> device_;
  NS::SharedPtr<MTL::CommandQueue> queue_;
  NS::SharedPtr<MTL::Library> library_;
  std::string gpu_, family_, library_description_;
  uint32_t simd_width_ = 0;
};

}  // namespace

std::unique_ptr<Device> create_metal_device(const std::string& source) {
  AutoreleaseScope scope;
  NS::SharedPtr<MTL::Device> device = NS::TransferPtr(MTL::CreateSystemDefaultDevice());
  if (!device) throw DeviceError("this machine has no Metal GPU");
  return std::make_unique<MetalDevice>(std::move(device), source);
}

std::unique_ptr<Device> create_metal_device() { return create_metal_device(std::string()); }

}  // namespace metalnn::gpu
