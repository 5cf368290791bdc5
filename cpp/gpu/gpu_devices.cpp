#include "gpu/gpu_devices.h"

#include <mutex>
#include <set>

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
  std::string unavailable;  // why `device` is null
};

// Why this build has no `metal` device at all.
std::string metal_not_built() {
#if defined(__APPLE__)
  // METALNN_METAL_MISSING: set by cmake/metal.cmake when METALNN_METAL ends up off.
#ifdef METALNN_METAL_MISSING
  return METALNN_METAL_MISSING;
#else
  return "this build of metalnn has no Metal kernels";
#endif
#else
  return "it needs an Apple GPU and a build on macOS or iOS";
#endif
}

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
    if (!metal_tried) {
      metal_tried = true;
#if METALNN_WITH_METAL
      try {
        metal.device = create_metal_device();
        metal.pipelines = std::make_unique<PipelineCache>(*metal.device);
      } catch (const Error& e) {
        metal.device.reset();
        metal.unavailable = e.what();
      }
#else
      metal.unavailable = metal_not_built();
#endif
    }
    return &metal;
  }
  return nullptr;
}

std::mutex& compiled_mutex() {
  static std::mutex mutex;
  return mutex;
}
std::set<std::string>& compiled_set() {
  static std::set<std::string> names;
  return names;
}

}  // namespace

std::string gpu_unavailable_reason(const std::string& name) {
  const SharedDevice* d = shared(name);
  if (!d) return "unknown GPU device '" + name + "'";
  return d->device ? "" : "device '" + name + "' is not available: " + d->unavailable;
}

std::vector<std::string> gpu_device_names() {
  std::vector<std::string> names;
  if (gpu_unavailable_reason("metal").empty()) names.push_back("metal");
  names.push_back("metal-sim");
  return names;
}

std::shared_ptr<Device> gpu_device(const std::string& name) {
  SharedDevice* d = shared(name);
  if (!d || !d->device) throw DeviceError(gpu_unavailable_reason(name));
  return d->device;
}

PipelineCache& gpu_pipelines(const std::string& name) {
  gpu_device(name);
  return *shared(name)->pipelines;
}

std::unique_ptr<Executable> compile_gpu(const Graph& g, const std::string& device, const std::string& precision,
                                        const NodeEvaluator& evaluator) {
  SharedDevice* d = shared(device);
  if (!d || !d->device) throw DeviceError(gpu_unavailable_reason(device));
  auto executable = std::make_unique<GpuExecutable>(g, d->device, *d->pipelines, precision, evaluator);
  std::lock_guard<std::mutex> lock(compiled_mutex());
  for (const std::string& name : executable->dispatched_kernels()) compiled_set().insert(name);
  return executable;
}

std::vector<std::string> compiled_kernels() {
  std::lock_guard<std::mutex> lock(compiled_mutex());
  return std::vector<std::string>(compiled_set().begin(), compiled_set().end());
}

}  // namespace metalnn::gpu
