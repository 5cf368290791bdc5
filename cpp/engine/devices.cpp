#include <algorithm>
#include <cstdio>
#include <mutex>

#include "engine/devices.h"

#include "core/error.h"
#include "cpu/cpu_executable.h"
#include "cpu/evaluator.h"
#include "gpu/gpu_devices.h"

namespace metalnn {

std::vector<std::string> available_devices() {
  std::vector<std::string> devices = gpu::gpu_device_names();
  // Off Apple the simulator is for testing, never the default: cpu comes first.
  devices.insert(devices.begin() + (devices.front() == "metal" ? 1 : 0), "cpu");
  return devices;
}

std::map<std::string, std::string> unavailable_devices() {
  std::map<std::string, std::string> missing;
  for (const char* name : {"metal", "metal-sim"}) {
    std::string reason = gpu::gpu_unavailable_reason(name);
    if (!reason.empty()) missing.emplace(name, std::move(reason));
  }
  return missing;
}

AutoDevice choose_auto_device(const std::vector<std::string>& available, bool apple, const std::string& metal_missing) {
  AutoDevice choice{available.front(), ""};
  if (apple && choice.device != "metal")
    choice.notice = "metalnn: device 'auto' runs on '" + choice.device + "' because " + metal_missing;
  return choice;
}

std::string resolve_device(const std::string& device) {
  std::vector<std::string> devices = available_devices();
  if (device == "auto") {
#if defined(__APPLE__)
    const bool apple = true;
#else
    const bool apple = false;
#endif
    const AutoDevice choice = choose_auto_device(devices, apple, apple ? gpu::gpu_unavailable_reason("metal") : "");
    static std::once_flag said;
    if (!choice.notice.empty()) std::call_once(said, [&] { std::fprintf(stderr, "%s\n", choice.notice.c_str()); });
    return choice.device;
  }
  if (std::find(devices.begin(), devices.end(), device) != devices.end()) return device;
  if (device == "metal" || device == "metal-sim") throw DeviceError(gpu::gpu_unavailable_reason(device));
  throw DeviceError("unknown device '" + device + "', expected one of auto, cpu, metal, metal-sim");
}

std::unique_ptr<Executable> compile(Graph g, const CompileOptions& options) {
  std::string device = resolve_device(options.device);
  if (device == "cpu") {
    if (options.precision != "float32")
      throw DeviceError("device 'cpu' computes in float32 only, got precision '" + options.precision + "'");
    return std::make_unique<cpu::CpuExecutable>(std::move(g), options.threads);
  }
  return gpu::compile_gpu(g, device, options.precision, cpu::node_evaluator());
}

}  // namespace metalnn
