// C = A * B (row-major; M, N, K multiples of 8) with simdgroup_float8x8: one SIMD-group (a 32-thread
// threadgroup) per 8x8 tile of C, loading 8x8 tiles of A and B straight from device memory.
// No threadgroup memory.
#include <metal_stdlib>
using namespace metal;

struct GemmShape {
  uint m;
  uint n;
  uint k;
};

kernel void gemm_simdgroup_f32(device const float* a [[buffer(0)]],
                               device const float* b [[buffer(1)]],
                               device float* c [[buffer(2)]],
                               constant GemmShape& shape [[buffer(3)]],
                               uint2 tile [[threadgroup_position_in_grid]]) {
  simdgroup_float8x8 acc = make_filled_simdgroup_matrix<float, 8, 8>(0.0f);
  simdgroup_float8x8 a_tile;
  simdgroup_float8x8 b_tile;
  for (uint k = 0; k < shape.k; k += 8) {
    simdgroup_load(a_tile, a, shape.k, ulong2(k, tile.y * 8));
    simdgroup_load(b_tile, b, shape.n, ulong2(tile.x * 8, k));
    simdgroup_barrier(mem_flags::mem_none);
    simdgroup_multiply_accumulate(acc, a_tile, b_tile, acc);
  }
  simdgroup_store(acc, c, shape.n, ulong2(tile.x * 8, tile.y * 8));
}
