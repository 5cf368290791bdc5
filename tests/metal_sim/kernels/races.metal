// Kernels for the race checker (racecheck_test.cpp), each broken one beside a correct one of the same
// shape. Threadgroup memory: 64 floats (as 16 float4 where vectors are the point).
#include <metal_stdlib>
using namespace metal;

// Rotates each threadgroup's 64 values by one through threadgroup memory.
kernel void rotate_missing_barrier(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                                   uint gid [[thread_position_in_grid]], uint tid [[thread_index_in_threadgroup]]) {
  threadgroup float slots[64];
  slots[tid] = in[gid];
  out[gid] = slots[(tid + 1) % 64];  // another thread's slot, maybe not written yet
  threadgroup_barrier(mem_flags::mem_threadgroup);
}

kernel void rotate_with_barrier(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                                uint gid [[thread_position_in_grid]], uint tid [[thread_index_in_threadgroup]]) {
  threadgroup float slots[64];
  slots[tid] = in[gid];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[gid] = slots[(tid + 1) % 64];
}

// Each thread stores one component of a shared float4 (the old conv_tiled pattern): on the GPU the
// store is a read-modify-write of the whole vector, so neighbouring threads lose each other's values.
kernel void vector_component_store(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                                   uint gid [[thread_position_in_grid]], uint tid [[thread_index_in_threadgroup]]) {
  threadgroup float4 tile[16];
  tile[tid / 4][tid % 4] = in[gid];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[gid] = tile[(tid + 1) % 64 / 4][(tid + 1) % 4];
}

// The fix: the same tile stored through a scalar view, so each thread writes only its own 4 bytes.
kernel void scalar_view_store(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                              uint gid [[thread_position_in_grid]], uint tid [[thread_index_in_threadgroup]]) {
  threadgroup float4 tile[16];
  threadgroup float* flat = reinterpret_cast<threadgroup float*>(tile);
  flat[tid] = in[gid];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[gid] = tile[(tid + 1) % 64 / 4][(tid + 1) % 4];
}

// Every threadgroup writes its sum to out[0] (broken) or out[group] (correct); thread 0 of each group
// does the writing.
kernel void group_sum_same_slot(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                                uint group [[threadgroup_position_in_grid]], uint tid [[thread_index_in_threadgroup]]) {
  if (tid == 0) {
    float sum = 0.0f;
    for (uint i = 0; i < 64; ++i) sum += in[group * 64 + i];
    out[0] = sum;
  }
}

kernel void group_sum_own_slot(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                               uint group [[threadgroup_position_in_grid]], uint tid [[thread_index_in_threadgroup]]) {
  if (tid == 0) {
    float sum = 0.0f;
    for (uint i = 0; i < 64; ++i) sum += in[group * 64 + i];
    out[group] = sum;
  }
}

// The same total through an atomic: atomics are exempt.
kernel void group_sum_atomic(device const float* in [[buffer(0)]], device atomic_float* out [[buffer(1)]],
                             uint group [[threadgroup_position_in_grid]], uint tid [[thread_index_in_threadgroup]]) {
  if (tid == 0) {
    float sum = 0.0f;
    for (uint i = 0; i < 64; ++i) sum += in[group * 64 + i];
    atomic_fetch_add_explicit(out, sum, memory_order_relaxed);
  }
}

// In place: each thread reads its right neighbour (another threadgroup's value at group edges) and
// writes its own element (broken); the correct one writes a separate buffer.
kernel void shift_in_place(device float* data [[buffer(0)]], device float* unused [[buffer(1)]],
                           uint gid [[thread_position_in_grid]], uint n [[threads_per_grid]]) {
  const float right = data[(gid + 1) % n];
  data[gid] = right;
}

kernel void shift_out_of_place(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                               uint gid [[thread_position_in_grid]], uint n [[threads_per_grid]]) {
  out[gid] = in[(gid + 1) % n];
}

// Two dispatches: scale writes out = 2 * in; add_one then reads it. They need a barrier between them.
kernel void scale_by_two(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                         uint gid [[thread_position_in_grid]]) {
  out[gid] = 2.0f * in[gid];
}

kernel void add_one(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                    uint gid [[thread_position_in_grid]]) {
  out[gid] = in[gid] + 1.0f;
}

// Out of bounds: each thread reads the next element, so the last thread reads one past its binding.
kernel void read_next(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                      uint gid [[thread_position_in_grid]]) {
  out[gid] = in[gid + 1];
}

// Out of bounds with vectors: each thread stores a float4, so a binding of 4n + 2 floats is overrun
// by the last store's two lanes, which straddle its end.
kernel void store_float4(device const float* in [[buffer(0)]], device float4* out [[buffer(1)]],
                         uint gid [[thread_position_in_grid]]) {
  out[gid] = float4(in[gid]);
}
