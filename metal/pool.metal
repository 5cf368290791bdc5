// MaxPool / AveragePool over 1-D and 2-D windows (dilations, pads, ceil mode resolved by the host).
// One thread per output element; no threadgroup memory.
#include "common.h"

template <bool Max, typename T>
kernel void pool(device const T* x [[buffer(0)]],
                 device T* y [[buffer(1)]],
                 constant PoolParams& p [[buffer(2)]],
                 uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  const uint ox = gid % p.out_w;
  const uint oy = (gid / p.out_w) % p.out_h;
  const uint plane = gid / (p.out_w * p.out_h);
  device const T* in = x + plane * p.in_h * p.in_w;
  const int y0 = int(oy * p.stride_h) - p.pad_top;
  const int x0 = int(ox * p.stride_w) - p.pad_left;
  float acc = Max ? -INFINITY : 0.0f;
  uint valid = 0, padded = 0;
  for (uint ky = 0; ky < p.kernel_h; ++ky) {
    const int iy = y0 + int(ky * p.dilation_h);
    for (uint kx = 0; kx < p.kernel_w; ++kx) {
      const int ix = x0 + int(kx * p.dilation_w);
      // count_include_pad counts the explicit padding, not the ceil-mode overhang.
      if (iy >= -p.pad_top && iy < int(p.in_h) + p.pad_bottom && ix >= -p.pad_left &&
          ix < int(p.in_w) + p.pad_right) ++padded;
      if (iy < 0 || iy >= int(p.in_h) || ix < 0 || ix >= int(p.in_w)) continue;
      const float v = float(in[uint(iy) * p.in_w + uint(ix)]);
      acc = Max ? max(acc, v) : acc + v;
      ++valid;
    }
  }
  if (!Max) acc /= float(max(p.count_include_pad ? padded : valid, 1u));
  y[gid] = T(acc);
}

#define instantiate_pool(dtype, T, _)                                                           \
  instantiate_kernel(pool, max, dtype, pool<true, T>)                                           \
  instantiate_kernel(pool, avg, dtype, pool<false, T>)
MNN_FLOAT_TYPES(instantiate_pool, )
// MaxPool of int8 / uint8 tensors: every byte is exact in float, and the maximum is one of them.
instantiate_kernel(pool, max, u8, pool<true, uchar>)
instantiate_kernel(pool, max, i8, pool<true, char>)
