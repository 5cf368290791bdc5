#include <algorithm>

#include "core/error.h"
#include "core/executable.h"
#include "cpu/cpu_executable.h"

namespace metalnn {

std::vector<std::string> available_devices() { return {"cpu"}; }

std::string resolve_device(const std::string& device) {
  std::vector<std::string> devices = available_devices();
  if (device == "auto") return devices.front();
  if (std::find(devices.begin(), devices.end(), device) != devices.end()) return device;
  if (device == "metal")
    throw DeviceError("device 'metal' is not available: it needs an Apple GPU and a build on macOS or iOS");
  if (device == "metal-sim")
    throw DeviceError("device 'metal-sim' is not available in this build: it has no Metal kernels yet");
  throw DeviceError("unknown device '" + device + "', expected one of auto, cpu, metal, metal-sim");
}

std::unique_ptr<Executable> compile(const Graph& g, const CompileOptions& options) {
  std::string device = resolve_device(options.device);
  if (device == "cpu") {
    if (options.precision != "float32")
      throw DeviceError("device 'cpu' computes in float32 only, got precision '" + options.precision + "'");
    return std::make_unique<cpu::CpuExecutable>(g);
  }
  throw DeviceError("device '" + device + "' cannot compile models yet");
}

}  // namespace metalnn
