#include "kernel_registry.h"

namespace metal_sim {

const KernelInfo* find_kernel(const KernelLibrary& library, const std::string& host_name) {
  for (const KernelTable* table : library) {
    for (unsigned i = 0; i < table->count; ++i) {
      if (host_name == table->kernels[i].host_name) return &table->kernels[i];
    }
  }
  return nullptr;
}

const KernelInfo* racecheck_copy(const KernelLibrary& library, const KernelInfo* kernel) {
  for (const KernelTable* table : library) {
    if (kernel >= table->kernels && kernel < table->kernels + table->count) {
      return table->racecheck ? &table->racecheck->kernels[kernel - table->kernels] : nullptr;
    }
  }
  return nullptr;
}

}  // namespace metal_sim
