// Debug accessors of the GPU devices for the tests and `metalnn doctor`: device counters (command
// buffers, pipelines), what a device says about itself, a pipeline built for each of its kernels,
// the kernels the library holds and those compiled executables dispatch, and the op types the GPU lowers.
#include <pybind11/stl.h>

#include "core/error.h"
#include "numpy_tensor.h"
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
  m.def("_gpu_device_info", [](const std::string& device) {
    const std::shared_ptr<Device> d = gpu_device(device);
    const DeviceInfo info = d->info();
    const DeviceLimits limits = d->limits();
    py::dict out;
    out["gpu"] = info.gpu;
    out["family"] = info.family;
    out["library"] = info.library;
    out["simd_width"] = limits.simd_width;
    out["max_threads_per_threadgroup"] = limits.max_threads_per_threadgroup;
    out["max_threadgroup_memory"] = limits.max_threadgroup_memory;
    return out;
  }, "What the GPU device `device` says about itself and its limits (debug).");
  m.def("_gpu_build_pipelines", [](const std::string& device) {
    const std::shared_ptr<Device> d = gpu_device(device);
    PipelineCache& cache = gpu_pipelines(device);
    py::list out;
    for (const std::string& kernel : d->kernel_names()) {
      py::dict row;
      row["kernel"] = kernel;
      try {
        const std::shared_ptr<Pipeline> p = cache.get(kernel);
        row["error"] = "";
        row["thread_execution_width"] = p->thread_execution_width();
        row["max_total_threads_per_threadgroup"] = p->max_total_threads_per_threadgroup();
      } catch (const metalnn::Error& e) {
        row["error"] = metalnn::python::decode_utf8(e.what());
      }
      out.append(row);
    }
    return out;
  }, "Builds (or finds) the pipeline of every kernel of `device`; one row per kernel (debug).");
  m.def("_gpu_library_kernels", [] {
    std::vector<std::string> names;
    for (const metal_sim::KernelTable* table : metal_sim::product_kernels())
      for (unsigned i = 0; i < table->count; ++i) names.emplace_back(table->kernels[i].host_name);
    return names;
  }, "Host names of every kernel in metal/*.metal (debug).");
  m.def("_gpu_dispatched_kernels", &compiled_kernels, "Kernels the GPU executables built in this process dispatch (debug).");
  m.def("_gpu_set_encoder_barriers", &set_encoder_barriers,
        "Test switch: false leaves out the barriers between dependent dispatches (debug).");
  m.def("_gpu_lowered_ops", &lowered_op_types, "Op types the GPU devices lower (debug).");
}
