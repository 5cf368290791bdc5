// Kernels compiled into a shared library at run time (metalnn.metal_kernel on metal-sim): the
// library was translated and compiled with msl/msl_runtime_table.h, which receives the runtime's
// hooks here.
#pragma once
#include <string>

#include "gpu/sim/kernel_registry.h"

namespace metal_sim {

// Loads the library at `path` (kept loaded for the life of the process: pipelines and dispatches
// point into it). Throws metalnn::DeviceError when it cannot be loaded.
KernelLibrary load_kernel_library(const std::string& path);

}  // namespace metal_sim
