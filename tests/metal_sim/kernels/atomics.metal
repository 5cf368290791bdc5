// Relaxed atomics on device and threadgroup memory: each thread counts itself in its threadgroup's
// counter, adds 0.5 to a float sum and raises an int maximum; after a barrier the first thread adds
// the group's count to the device total. Threadgroup memory: one atomic_uint.
#include <metal_stdlib>
using namespace metal;

kernel void atomic_counters(device atomic_uint* total [[buffer(0)]],
                            device atomic_float* sum [[buffer(1)]],
                            device atomic_int* largest [[buffer(2)]],
                            uint gid [[thread_position_in_grid]],
                            uint tid [[thread_index_in_threadgroup]]) {
  threadgroup atomic_uint group_count;
  if (tid == 0) atomic_store_explicit(&group_count, 0u, memory_order_relaxed);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  atomic_fetch_add_explicit(&group_count, 1u, memory_order_relaxed);
  atomic_fetch_add_explicit(sum, 0.5f, memory_order_relaxed);
  atomic_fetch_max_explicit(largest, int(gid), memory_order_relaxed);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (tid == 0) {
    atomic_fetch_add_explicit(total, atomic_load_explicit(&group_count, memory_order_relaxed), memory_order_relaxed);
  }
}
