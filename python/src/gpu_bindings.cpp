// Debug accessors of the GPU devices for the tests: device counters (command buffers, pipelines),
// the kernels the library holds and those runs have dispatched, and the op types the GPU lowers.
#include <pybind11/stl.h>

#include "gpu/gpu_devices.h"
#include "gpu/gpu_executable.h"
#include "gpu/lowering.h"
#include "gpu/sim/kernel_registry.h"

namespace py = pybind11;

void bind_gpu(py::module_& m) {
  using namespace metalnn::gpu;
  m.def("_gpu_counters", [](const std::string& device) {
    const DeviceCounters c = gpu_device(device)->counters();
    py::dict out;
    out["buffers_created"] = c.buffers_created;
    out["pipelines_created"] = c.pipelines_created;
    out["command_buffers_created"] = c.command_buffers_created;
    return out;
  }, "Counters of the shared GPU device `device` (debug).");
  m.def("_gpu_library_kernels", [] {
    std::vector<std::string> names;
    for (const metal_sim::KernelTable* table : metal_sim::product_kernels())
      for (unsigned i = 0; i < table->count; ++i) names.emplace_back(table->kernels[i].host_name);
    return names;
  }, "Host names of every kernel in metal/*.metal (debug).");
  m.def("_gpu_dispatched_kernels", &dispatched_kernels, "Kernels dispatched by runs in this process (debug).");
  m.def("_gpu_lowered_ops", &lowered_op_types, "Op types the GPU devices lower (debug).");
}
