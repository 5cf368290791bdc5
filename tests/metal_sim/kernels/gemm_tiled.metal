// C = A * B (row-major, M x K times K x N) with 16x16 tiles of A and B staged in threadgroup memory.
// One thread per element of C; a 16x16 threadgroup computes one 16x16 tile of C.
// Threadgroup memory: two 16x16 float tiles (2 KiB); two barriers per K step.
#include <metal_stdlib>
using namespace metal;

constant constexpr uint kTile = 16;

struct GemmShape {
  uint m;
  uint n;
  uint k;
};

kernel void gemm_tiled_f32(device const float* a [[buffer(0)]],
                           device const float* b [[buffer(1)]],
                           device float* c [[buffer(2)]],
                           constant GemmShape& shape [[buffer(3)]],
                           uint2 gid [[thread_position_in_grid]],
                           uint2 lid [[thread_position_in_threadgroup]]) {
  threadgroup float tile_a[kTile][kTile];
  threadgroup float tile_b[kTile][kTile];
  const uint row = gid.y;
  const uint col = gid.x;
  float sum = 0.0f;
  for (uint k0 = 0; k0 < shape.k; k0 += kTile) {
    const uint ak = k0 + lid.x;
    const uint bk = k0 + lid.y;
    tile_a[lid.y][lid.x] = (row < shape.m && ak < shape.k) ? a[row * shape.k + ak] : 0.0f;
    tile_b[lid.y][lid.x] = (bk < shape.k && col < shape.n) ? b[bk * shape.n + col] : 0.0f;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint kk = 0; kk < kTile; ++kk) {
      sum = fma(tile_a[lid.y][kk], tile_b[kk][lid.x], sum);
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  if (row < shape.m && col < shape.n) {
    c[row * shape.n + col] = sum;
  }
}
