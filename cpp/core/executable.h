// What a device makes of an optimised graph: built once at load time, run once per inference.
#pragma once
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/graph.h"

namespace metalnn {

class Executable {
 public:
  virtual ~Executable() = default;
  // `inputs` follow the graph's input order and are already validated; returns the graph outputs in
  // order, in freshly allocated tensors that the caller owns. Not re-entrant: callers serialise.
  virtual std::vector<Tensor> run(const std::vector<Tensor>& inputs) = 0;
  virtual size_t arena_bytes() const = 0;
};

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
std::unique_ptr<Executable> compile(const Graph& g, const CompileOptions& options);

}  // namespace metalnn
