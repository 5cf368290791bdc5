// simdgroup_matrix operations as SIMD-group collectives: a transposing copy of one 8x8 block through
// threadgroup memory (every lane takes part), and the same copy reached by half the SIMD-group only.
// One 32-thread threadgroup; 64 floats of threadgroup memory.
#include <metal_stdlib>
using namespace metal;

kernel void simdgroup_matrix_transpose(device const float* x [[buffer(0)]],
                                       device float* y [[buffer(1)]]) {
  threadgroup float tile[64];
  simdgroup_float8x8 m;
  simdgroup_load(m, x);
  simdgroup_store(m, tile, 8, ulong2(0, 0), true);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  simdgroup_load(m, tile);
  simdgroup_store(m, y);
}

kernel void simdgroup_matrix_divergent(device const float* x [[buffer(0)]],
                                       device float* y [[buffer(1)]],
                                       ushort lane [[thread_index_in_simdgroup]]) {
  simdgroup_float8x8 m = make_filled_simdgroup_matrix<float, 8, 8>(0.0f);
  if (lane < 16) {
    simdgroup_load(m, x);
  }
  simdgroup_store(m, y);
}
