// Deliberately broken kernels that prove metal-sim's checks: a missing barrier, barriers in divergent
// control flow, and an out-of-bounds write. Threadgroup memory: up to 256 floats (reverse kernels) or
// two 16x16 tiles (GEMM).
#include <metal_stdlib>
using namespace metal;

// y = x reversed within each threadgroup; correct only with the barrier.
kernel void reverse_with_barrier(device const float* x [[buffer(0)]],
                                 device float* y [[buffer(1)]],
                                 uint gid [[thread_position_in_grid]],
                                 uint tid [[thread_index_in_threadgroup]],
                                 uint threads [[threads_per_threadgroup]]) {
  threadgroup float tile[256];
  tile[tid] = x[gid];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  y[gid] = tile[threads - 1 - tid];
}

kernel void reverse_missing_barrier(device const float* x [[buffer(0)]],
                                    device float* y [[buffer(1)]],
                                    uint gid [[thread_position_in_grid]],
                                    uint tid [[thread_index_in_threadgroup]],
                                    uint threads [[threads_per_threadgroup]]) {
  threadgroup float tile[256];
  tile[tid] = x[gid];
  y[gid] = tile[threads - 1 - tid];
}

struct GemmShape {
  uint m;
  uint n;
  uint k;
};

// The tiled GEMM of gemm_tiled.metal without its second barrier: a fast thread overwrites a tile
// that slower threads still read.
kernel void gemm_tiled_missing_barrier(device const float* a [[buffer(0)]],
                                       device const float* b [[buffer(1)]],
                                       device float* c [[buffer(2)]],
                                       constant GemmShape& shape [[buffer(3)]],
                                       uint2 gid [[thread_position_in_grid]],
                                       uint2 lid [[thread_position_in_threadgroup]]) {
  threadgroup float tile_a[16][16], tile_b[16][16];
  float sum = 0.0f;
  for (uint k0 = 0; k0 < shape.k; k0 += 16) {
    tile_a[lid.y][lid.x] = (gid.y < shape.m && k0 + lid.x < shape.k) ? a[gid.y * shape.k + k0 + lid.x] : 0.0f;
    tile_b[lid.y][lid.x] = (k0 + lid.y < shape.k && gid.x < shape.n) ? b[(k0 + lid.y) * shape.n + gid.x] : 0.0f;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint kk = 0; kk < 16; ++kk) {
      sum += tile_a[lid.y][kk] * tile_b[kk][lid.x];
    }
  }
  if (gid.y < shape.m && gid.x < shape.n) {
    c[gid.y * shape.n + gid.x] = sum;
  }
}

// Only the first SIMD-group reaches the barrier; the others return.
kernel void divergent_barrier(device float* y [[buffer(0)]],
                              uint tid [[thread_index_in_threadgroup]]) {
  threadgroup float tile[64];
  tile[tid] = float(tid);
  if (tid < 32) {
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  y[tid] = tile[63 - tid];
}

// Each half of the threadgroup waits at a different barrier.
kernel void divergent_barrier_branches(device float* y [[buffer(0)]],
                                       uint tid [[thread_index_in_threadgroup]]) {
  if (tid % 2 == 0) {
    threadgroup_barrier(mem_flags::mem_threadgroup);
  } else {
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  y[tid] = 1.0f;
}

// Writes one element per thread with no bounds check: the grid is larger than the buffer.
kernel void out_of_bounds_write(device float* y [[buffer(0)]],
                                uint gid [[thread_position_in_grid]]) {
  y[gid] = 1.0f;
}
