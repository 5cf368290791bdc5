#include <algorithm>

#include "core/error.h"
#include "core/executable.h"
#include "cpu/cpu_executable.h"
#include "gpu/gpu_devices.h"

namespace metalnn {

std::vector<std::string> available_devices() {
  std::vector<std::string> devices = gpu::gpu_device_names();
  // Off Apple the simulator is for testing, never the default: cpu comes first.
  devices.insert(devices.begin() + (devices.front() == "metal" ? 1 : 0), "cpu");
  return devices;
}

std::string resolve_device(const std::string& device) {
  std::vector<std::string> devices = available_devices();
  if (device == "auto") return devices.front();
  if (std::find(devices.begin(), devices.end(), device) != devices.end()) return device;
  if (device == "metal" || device == "metal-sim") throw DeviceError(gpu::gpu_unavailable_reason(device));
  throw DeviceError("unknown device '" + device + "', expected one of auto, cpu, metal, metal-sim");
}

std::unique_ptr<Executable> compile(const Graph& g, const CompileOptions& options) {
  std::string device = resolve_device(options.device);
  if (device == "cpu") {
    if (options.precision != "float32")
      throw DeviceError("device 'cpu' computes in float32 only, got precision '" + options.precision + "'");
    return std::make_unique<cpu::CpuExecutable>(g, options.threads);
  }
  return gpu::compile_gpu(g, device, options.precision);
}

}  // namespace metalnn
