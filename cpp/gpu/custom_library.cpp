#include "gpu/custom_library.h"

#include <cstring>

#include "core/error.h"
#include "gpu/gpu_devices.h"
#include "gpu/sim/kernel_library_loader.h"
#include "gpu/sim/sim_device.h"
#if METALNN_WITH_METAL
#include "gpu/metal/metal_device.h"
#endif

namespace metalnn::gpu {

CustomLibrary::CustomLibrary(const std::string& device, const std::string& source, const std::string& sim_library)
    : device_name_(device) {
  if (device == "metal-sim") {
    SimDeviceOptions options;
    options.recoverable_faults = true;
    device_ = create_sim_device(metal_sim::load_kernel_library(sim_library), options);
  } else if (device == "metal") {
    const std::string why = gpu_unavailable_reason("metal");
    if (!why.empty()) throw DeviceError(why);
#if METALNN_WITH_METAL
    device_ = create_metal_device(source);
#endif
  } else {
    throw DeviceError("custom kernels run on 'metal' or 'metal-sim', not '" + device + "'");
  }
  pipelines_ = std::make_unique<PipelineCache>(*device_);
}

void CustomLibrary::run(const std::string& kernel, const std::vector<Arg>& args, Size3 grid, Size3 threadgroup) {
  const std::shared_ptr<Pipeline> pipeline = pipelines_->get(kernel);
  const uint64_t threads = uint64_t(threadgroup.x) * threadgroup.y * threadgroup.z;
  if (threads == 0 || threads > pipeline->max_total_threads_per_threadgroup()) {
    throw DeviceError("kernel '" + kernel + "': threadgroup of " + std::to_string(threads) + " threads, allowed 1 to " +
                      std::to_string(pipeline->max_total_threads_per_threadgroup()));
  }
  // Caller memory is used in place where the device can wrap it (always on metal-sim; page-aligned
  // memory on metal), otherwise through a copy.
  struct Copy {
    std::shared_ptr<Buffer> buffer;
    const Arg* arg;
  };
  std::vector<std::shared_ptr<Buffer>> buffers;
  std::vector<Copy> copies;
  std::unique_ptr<CommandBuffer> commands = device_->new_command_buffer();
  commands->set_pipeline(*pipeline);
  for (const Arg& a : args) {
    if (a.by_value) {
      commands->set_bytes(a.data, a.length, a.index);
      continue;
    }
    std::shared_ptr<Buffer> b = device_->wrap_memory(a.data, a.length);
    if (!b) {
      b = device_->new_buffer(a.length);
      std::memcpy(b->contents(), a.data, a.length);
      copies.push_back({b, &a});
    }
    buffers.push_back(b);
    commands->set_buffer(*b, 0, a.length, a.index);
  }
  if (uint64_t(grid.x) * grid.y * grid.z > 0) commands->dispatch_threads(grid, threadgroup);
  commands->commit_and_wait();
  for (const Copy& c : copies)
    if (c.arg->written) std::memcpy(c.arg->data, c.buffer->contents(), c.arg->length);
}

}  // namespace metalnn::gpu
