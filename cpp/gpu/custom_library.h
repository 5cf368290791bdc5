// A user's Metal kernels (metalnn.metal_kernel): a device of their own over the user's library, and
// running one kernel on caller memory. On `metal` the MSL source is compiled with newLibrary(source);
// on `metal-sim` the caller has translated and compiled it into a shared library (bounds-checked,
// with kernel faults reported as DeviceError instead of ending the process).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gpu/device.h"
#include "gpu/pipeline_cache.h"

namespace metalnn::gpu {

class CustomLibrary {
 public:
  // `device`: "metal" (compiles `source`) or "metal-sim" (loads `sim_library`). Throws DeviceError
  // when the device is unavailable, KernelSourceError when the source does not compile.
  CustomLibrary(const std::string& device, const std::string& source, const std::string& sim_library);

  // One kernel argument: caller memory bound at [[buffer(index)]], or `by_value` bytes (setBytes).
  struct Arg {
    void* data;
    size_t length;
    uint32_t index;
    bool by_value;  // at most 4 KiB
    bool written;   // copied back when the device had to work on a copy
  };
  // Runs `kernel` over `grid` threads (dispatchThreads) in threadgroups of `threadgroup` and waits.
  // Throws DeviceError for an unknown kernel, a bad dispatch or a fault the device reports.
  void run(const std::string& kernel, const std::vector<Arg>& args, Size3 grid, Size3 threadgroup);

  const std::string& device_name() const { return device_name_; }

 private:
  std::string device_name_;
  std::shared_ptr<Device> device_;
  std::unique_ptr<PipelineCache> pipelines_;
};

}  // namespace metalnn::gpu
