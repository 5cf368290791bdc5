// Device choice and compilation: which devices this machine has, what "auto" means, and building
// the CPU or GPU executable for an optimised graph. The engine is the one layer that sees every device.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/executable.h"
#include "core/graph.h"

namespace metalnn {

struct CompileOptions {
  std::string device = "cpu";
  std::string precision = "float32";
  int threads = 0;  // cpu: worker threads for this model; 0 follows the process default
};

// Devices usable on this machine, best first.
std::vector<std::string> available_devices();
// Each device missing on this machine ("metal", "metal-sim") with the reason.
std::map<std::string, std::string> unavailable_devices();
// Resolves "auto" to the best available device (on Apple, falling back from "metal" prints why to
// stderr once per process); throws DeviceError for unknown or unavailable devices.
std::string resolve_device(const std::string& device);

// What "auto" means among `available` (best first), and on an Apple build whose `metal` device is
// missing (`metal_missing` says why) the one-line notice resolve_device prints.
struct AutoDevice {
  std::string device;
  std::string notice;
};
AutoDevice choose_auto_device(const std::vector<std::string>& available, bool apple, const std::string& metal_missing);
// Builds the executable for `g` (optimised, sorted, shape-inferred) on options.device.
std::unique_ptr<Executable> compile(Graph g, const CompileOptions& options);

}  // namespace metalnn
