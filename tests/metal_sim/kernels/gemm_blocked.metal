// C = A * B (row-major; N a multiple of 4) with each thread computing a 4x4 block of C in four float4
// accumulators, B and C read and written as float4. Grid: (N / 4, ceil(M / 4)) threads.
// No threadgroup memory.
#include <metal_stdlib>
using namespace metal;

struct GemmShape {
  uint m;
  uint n;
  uint k;
};

kernel void gemm_blocked_f32(device const float* a [[buffer(0)]],
                             device const float4* b [[buffer(1)]],
                             device float4* c [[buffer(2)]],
                             constant GemmShape& shape [[buffer(3)]],
                             uint2 gid [[thread_position_in_grid]]) {
  const uint col4 = gid.x;
  const uint row0 = gid.y * 4;
  const uint n4 = shape.n / 4;
  if (col4 >= n4 || row0 >= shape.m) {
    return;
  }
  float4 acc[4] = {float4(0.0f), float4(0.0f), float4(0.0f), float4(0.0f)};
  for (uint k = 0; k < shape.k; ++k) {
    const float4 bv = b[k * n4 + col4];
    for (uint r = 0; r < 4; ++r) {
      const uint row = min(row0 + r, shape.m - 1);  // clamped rows are computed but not stored
      acc[r] = fma(float4(a[row * shape.k + k]), bv, acc[r]);
    }
  }
  for (uint r = 0; r < 4 && row0 + r < shape.m; ++r) {
    c[(row0 + r) * n4 + col4] = float4(acc[r].xy, acc[r].zw);
  }
}
