#include "gpu/gpu_devices.h"

#include <mutex>

#include "core/error.h"
#include "gpu/gpu_executable.h"
#include "gpu/pipeline_cache.h"
#include "gpu/sim/sim_device.h"
#if METALNN_WITH_METAL
#include "gpu/metal/metal_device.h"
#endif

namespace metalnn::gpu {

namespace {

struct SharedDevice {
  std::shared_ptr<Device> device;
  std::unique_ptr<PipelineCache> pipelines;
};

SharedDevice* shared(const std::string& name) {
  static std::mutex mutex;
  static SharedDevice sim, metal;
  static bool metal_tried = false;
  std::lock_guard<std::mutex> lock(mutex);
  if (name == "metal-sim") {
    if (!sim.device) {
      sim.device = create_sim_device();
      sim.pipelines = std::make_unique<PipelineCache>(*sim.device);
    }
    return &sim;
  }
  if (name == "metal") {
#if METALNN_WITH_METAL
    if (!metal_tried) {
      metal_tried = true;
      metal.device = create_metal_device();
      if (metal.device) metal.pipelines = std::make_unique<PipelineCache>(*metal.device);
    }
#endif
    (void)metal_tried;
    return metal.device ? &metal : nullptr;
  }
  return nullptr;
}

}  // namespace

std::string gpu_unavailable_reason(const std::string& name) {
  if (name == "metal-sim") return "";
  if (name == "metal") {
#if METALNN_WITH_METAL
    return shared("metal") ? "" : "device 'metal' is not available: this Mac has no Metal GPU";
#else
    return "device 'metal' is not available: it needs an Apple GPU and a build on macOS or iOS";
#endif
  }
  return "unknown GPU device '" + name + "'";
}

std::vector<std::string> gpu_device_names() {
  std::vector<std::string> names;
  if (gpu_unavailable_reason("metal").empty()) names.push_back("metal");
  names.push_back("metal-sim");
  return names;
}

std::shared_ptr<Device> gpu_device(const std::string& name) {
  SharedDevice* d = shared(name);
  if (!d) throw DeviceError(gpu_unavailable_reason(name));
  return d->device;
}

std::unique_ptr<Executable> compile_gpu(const Graph& g, const std::string& device, const std::string& precision) {
  SharedDevice* d = shared(device);
  if (!d) throw DeviceError(gpu_unavailable_reason(device));
  return std::make_unique<GpuExecutable>(g, d->device, *d->pipelines, precision);
}

}  // namespace metalnn::gpu
