// Included once at the end of a kernel library compiled at run time (custom kernels): defines the
// runtime hooks of kernel_abi.h by forwarding to the table the runtime hands over when it loads the
// library (load_kernel_library in cpp/gpu/sim/kernel_library_loader.cpp), and the one exported
// entry point, which returns the library's KernelTable METAL_SIM_TABLE. The library's race-check
// copy (the same source compiled with msl_racecheck.h, when built) calls the race hooks and the
// __tsan_* callbacks defined here; that copy skips this file.
#pragma once
#ifndef METAL_SIM_RACECHECK

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
void race_name_threadgroup(const void* memory, const char* name) { loaded_hooks.race_name_threadgroup(memory, name); }
void race_vector_component(const void* vector, unsigned size, const void* component) {
  loaded_hooks.race_vector_component(vector, size, component);
}
}  // namespace metal_sim

// ThreadSanitizer's instrumentation ABI, as the race-check copy calls it (no TSan runtime is linked).
#define METAL_SIM_TSAN_ACCESS(size)                                                                       \
  extern "C" void __tsan_read##size(void* p) { ::metal_sim::loaded_hooks.race_access(p, size, false, __builtin_return_address(0)); } \
  extern "C" void __tsan_write##size(void* p) { ::metal_sim::loaded_hooks.race_access(p, size, true, __builtin_return_address(0)); } \
  extern "C" void __tsan_unaligned_read##size(void* p) {                                                  \
    ::metal_sim::loaded_hooks.race_access(p, size, false, __builtin_return_address(0));                   \
  }                                                                                                       \
  extern "C" void __tsan_unaligned_write##size(void* p) {                                                 \
    ::metal_sim::loaded_hooks.race_access(p, size, true, __builtin_return_address(0));                    \
  }                                                                                                       \
  extern "C" void __tsan_volatile_read##size(void* p) {                                                   \
    ::metal_sim::loaded_hooks.race_access(p, size, false, __builtin_return_address(0));                   \
  }                                                                                                       \
  extern "C" void __tsan_volatile_write##size(void* p) {                                                  \
    ::metal_sim::loaded_hooks.race_access(p, size, true, __builtin_return_address(0));                    \
  }
METAL_SIM_TSAN_ACCESS(1)
METAL_SIM_TSAN_ACCESS(2)
METAL_SIM_TSAN_ACCESS(4)
METAL_SIM_TSAN_ACCESS(8)
METAL_SIM_TSAN_ACCESS(16)
#undef METAL_SIM_TSAN_ACCESS
extern "C" void __tsan_read_range(void* p, unsigned long size) {
  ::metal_sim::loaded_hooks.race_access(p, size, false, __builtin_return_address(0));
}
extern "C" void __tsan_write_range(void* p, unsigned long size) {
  ::metal_sim::loaded_hooks.race_access(p, size, true, __builtin_return_address(0));
}
extern "C" void __tsan_init() {}
extern "C" void __tsan_func_entry(void*) {}
extern "C" void __tsan_func_exit() {}
extern "C" void* __tsan_memcpy(void* d, const void* s, unsigned long n) {
  ::metal_sim::loaded_hooks.race_access(s, n, false, __builtin_return_address(0));
  ::metal_sim::loaded_hooks.race_access(d, n, true, __builtin_return_address(0));
  return __builtin_memcpy(d, s, n);
}
extern "C" void* __tsan_memmove(void* d, const void* s, unsigned long n) {
  ::metal_sim::loaded_hooks.race_access(s, n, false, __builtin_return_address(0));
  ::metal_sim::loaded_hooks.race_access(d, n, true, __builtin_return_address(0));
  return __builtin_memmove(d, s, n);
}
extern "C" void* __tsan_memset(void* d, int c, unsigned long n) {
  ::metal_sim::loaded_hooks.race_access(d, n, true, __builtin_return_address(0));
  return __builtin_memset(d, c, n);
}

extern "C" __attribute__((visibility("default"))) const ::metal_sim::KernelTable* metal_sim_open_library(
    const ::metal_sim::RuntimeHooks* hooks, unsigned hooks_size) {
  if (hooks_size != sizeof(::metal_sim::RuntimeHooks)) return nullptr;  // built against another runtime
  ::metal_sim::loaded_hooks = *hooks;
  return &METAL_SIM_TABLE;
}
#endif  // METAL_SIM_RACECHECK
