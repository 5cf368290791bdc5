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

// Every half operation rounds to half, as on a GPU (no float precision kept between operations):
// x holds {2048, 1, 300} and out gets (2048 + 1) - 2048 = 0 (2049 rounds to 2048),
// 300 * 300 / 300 = inf (90000 overflows half), and 2048 plus 64 ones added one by one = 2048.
kernel void half_rounding(device const half* x [[buffer(0)]], device half* out [[buffer(1)]],
                          uint gid [[thread_position_in_grid]]) {
  const half big = x[0], one = x[1], h300 = x[2];
  out[0] = (big + one) - big;
  out[1] = h300 * h300 / h300;
  out[2] = big + one + one + one + one + one + one + one + one + one + one + one + one + one + one + one + one -
           big;
  half sum = big;
  for (int i = 0; i < 64; ++i) sum += one;
  out[3] = sum - big;
  out[4] = fma(big, one, one) - big;  // fma rounds once: 2049 -> 2048
}
