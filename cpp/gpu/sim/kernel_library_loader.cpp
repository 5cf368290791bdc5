#include "gpu/sim/kernel_library_loader.h"

#include <dlfcn.h>

#include "core/error.h"

namespace metal_sim {

KernelLibrary load_kernel_library(const std::string& path) {
  // RTLD_LOCAL: each library defines the hooks under the same names and must keep its own.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    throw metalnn::DeviceError("metal-sim: cannot load kernel library '" + path + "': " + (why ? why : "?"));
  }
  using Open = const KernelTable* (*)(const RuntimeHooks*, unsigned);
  auto open = reinterpret_cast<Open>(dlsym(handle, "metal_sim_open_library"));
  const KernelTable* table = open ? open(&runtime_hooks(), sizeof(RuntimeHooks)) : nullptr;
  if (!table) {
    dlclose(handle);
    throw metalnn::DeviceError("metal-sim: '" + path + "' is not a kernel library of this metalnn build");
  }
  return KernelLibrary{table};
}

}  // namespace metal_sim
