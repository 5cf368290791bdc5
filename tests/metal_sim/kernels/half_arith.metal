// Half-precision arithmetic on half4 vectors: y = max(x * 0.5h + offsets, 0) on .xy, exp on .z,
// a dot product on .w. One thread per half4, no threadgroup memory.
#include <metal_stdlib>
using namespace metal;

kernel void half_ops(device const half4* x [[buffer(0)]],
                     device half4* y [[buffer(1)]],
                     uint gid [[thread_position_in_grid]]) {
  const half4 v = x[gid];
  half4 r = v * 0.5h + half4(1.0h, -2.0h, 0.25h, 0.0h);
  r.xy = max(r.xy, half2(0.0h));
  r.z = exp(r.z);
  r.w = dot(v.xy, half2(2.0h, -1.0h));
  y[gid] = r;
}
