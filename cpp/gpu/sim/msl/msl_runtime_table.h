// Included once at the end of a kernel library compiled at run time (custom kernels): defines the
// runtime hooks of kernel_abi.h by forwarding to the table the runtime hands over when it loads the
// library (load_kernel_library in cpp/gpu/sim/kernel_library_loader.cpp), and the one exported
// entry point, which returns the library's KernelTable METAL_SIM_TABLE.
#pragma once

namespace metal_sim {
namespace {
RuntimeHooks loaded_hooks;
}  // namespace
void threadgroup_barrier_at(const char* file, unsigned line) { loaded_hooks.threadgroup_barrier_at(file, line); }
void simdgroup_barrier_at(const char* file, unsigned line) { loaded_hooks.simdgroup_barrier_at(file, line); }
SimdLanes simd_exchange(const void* value, unsigned size, const char* what, const char* file, unsigned line) {
  return loaded_hooks.simd_exchange(value, size, what, file, line);
}
void* threadgroup_alloc(unsigned site, size_t size, size_t align) {
  return loaded_hooks.threadgroup_alloc(site, size, align);
}
const ConstantValue* function_constant(unsigned index) { return loaded_hooks.function_constant(index); }
void kernel_fault(const char* what) {
  loaded_hooks.kernel_fault(what);
  __builtin_unreachable();  // the runtime's kernel_fault throws or aborts
}
}  // namespace metal_sim

extern "C" __attribute__((visibility("default"))) const ::metal_sim::KernelTable* metal_sim_open_library(
    const ::metal_sim::RuntimeHooks* hooks, unsigned hooks_size) {
  if (hooks_size != sizeof(::metal_sim::RuntimeHooks)) return nullptr;  // built against another runtime
  ::metal_sim::loaded_hooks = *hooks;
  return &METAL_SIM_TABLE;
}
