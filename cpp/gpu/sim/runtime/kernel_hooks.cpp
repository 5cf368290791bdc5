// The functions translated kernels call (kernel_abi.h), forwarded to this OS thread's runner.
#include "../kernel_abi.h"
#include "threadgroup_runner.h"

namespace metal_sim {

void threadgroup_barrier_at(const char* file, unsigned line) {
  ThreadgroupRunner::for_this_thread().wait_at_barrier(true, file, line);
}

void simdgroup_barrier_at(const char* file, unsigned line) {
  ThreadgroupRunner::for_this_thread().wait_at_barrier(false, file, line);
}

SimdLanes simd_exchange(const void* value, unsigned size, const char* what, const char* file, unsigned line) {
  return ThreadgroupRunner::for_this_thread().simd_exchange(value, size, what, file, line);
}

void* threadgroup_alloc(unsigned site, size_t size, size_t align) {
  return ThreadgroupRunner::for_this_thread().threadgroup_alloc(site, size, align);
}

void race_name_threadgroup(const void* memory, const char* name) {
  ThreadgroupRunner::for_this_thread().name_threadgroup(memory, name);
}

void race_vector_component(const void* vector, unsigned size, const void* component) {
  ThreadgroupRunner::for_this_thread().vector_component(vector, size, component);
}

void race_access(const void* address, size_t size, bool write, const void* pc) {
  if (RaceTracker* tracker = RaceTracker::active()) tracker->access(address, size, write, pc);
}

const ConstantValue* function_constant(unsigned index) {
  return ThreadgroupRunner::for_this_thread().function_constant(index);
}

void kernel_fault(const char* what) { ThreadgroupRunner::for_this_thread().fault(what); }

const RuntimeHooks& runtime_hooks() {
  static const RuntimeHooks hooks{&threadgroup_barrier_at, &simdgroup_barrier_at,  &simd_exchange,
                                  &threadgroup_alloc,      &function_constant,     &kernel_fault,
                                  &race_name_threadgroup,  &race_vector_component, &race_access};
  return hooks;
}

}  // namespace metal_sim
