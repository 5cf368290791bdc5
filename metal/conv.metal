// Direct convolution (NCHW, OIHW weights) with fused bias + activation. conv_direct / conv_3x3: one
// thread per output pixel and block of 4 output channels of one group (each input tap loaded once
// for 4 filters; 3x3 has its window unrolled at compile time). conv_depthwise: one thread per output
// element. 1x1 stride-1 convolutions run as GEMM (matmul.metal). conv_transpose (IOHW weights): one
// thread per output element, gathering the input taps that land on it. No threadgroup memory.
#include "common.h"

constant constexpr uint kChannelBlock = 4;


template <typename T>
inline void conv_store(device T* y, device const T* bias, float acc, uint n, uint oc, uint pixel,
                       constant ConvParams& p) {
  if (p.epilogue.has_bias) acc += float(bias[oc]);
  y[(n * p.out_c + oc) * p.out_h * p.out_w + pixel] = T(activate(acc, p.epilogue));
}

// Kernel = 0: the window size comes from the params.
template <uint Kernel, typename T>
kernel void conv(device const T* x [[buffer(0)]],
                 device const T* w [[buffer(1)]],
                 device const T* bias [[buffer(2)]],
                 device T* y [[buffer(3)]],
                 constant ConvParams& p [[buffer(4)]],
                 uint gid [[thread_position_in_grid]]) {
  const uint pixels = p.out_h * p.out_w;
  const uint blocks = (p.out_c_per_group + kChannelBlock - 1) / kChannelBlock;
  const uint groups = p.out_c / p.out_c_per_group;
  if (gid >= p.batch * groups * blocks * pixels) return;
  const uint pixel = gid % pixels;
  const uint block = (gid / pixels) % blocks;
  const uint g = (gid / (pixels * blocks)) % groups;
  const uint n = gid / (pixels * blocks * groups);
  const uint kernel_h = Kernel ? Kernel : p.kernel_h;
  const uint kernel_w = Kernel ? Kernel : p.kernel_w;
  const uint oc0 = g * p.out_c_per_group + block * kChannelBlock;
  const uint oc_count = min(kChannelBlock, p.out_c_per_group - block * kChannelBlock);
  const int y0 = int((pixel / p.out_w) * p.stride_h) - p.pad_top;
  const int x0 = int((pixel % p.out_w) * p.stride_w) - p.pad_left;
  const uint filter_size = p.in_c_per_group * kernel_h * kernel_w;
  device const T* in = x + (n * p.in_c + g * p.in_c_per_group) * p.in_h * p.in_w;
  // Rows past the last filter repeat it (no out-of-bounds reads, no branch); never stored.
  device const T* filter[kChannelBlock];
  for (uint j = 0; j < kChannelBlock; ++j) filter[j] = w + (oc0 + min(j, oc_count - 1)) * filter_size;
  float acc[kChannelBlock] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (uint ic = 0; ic < p.in_c_per_group; ++ic) {
    device const T* plane = in + ic * p.in_h * p.in_w;
    for (uint ky = 0; ky < kernel_h; ++ky) {
      const int iy = y0 + int(ky * p.dilation_h);
      if (iy < 0 || iy >= int(p.in_h)) continue;
      for (uint kx = 0; kx < kernel_w; ++kx) {
        const int ix = x0 + int(kx * p.dilation_w);
        if (ix < 0 || ix >= int(p.in_w)) continue;
        const float v = float(plane[uint(iy) * p.in_w + uint(ix)]);
        const uint tap = (ic * kernel_h + ky) * kernel_w + kx;
        for (uint j = 0; j < kChannelBlock; ++j) acc[j] = fma(v, float(filter[j][tap]), acc[j]);
      }
    }
  }
  for (uint j = 0; j < oc_count; ++j) conv_store(y, bias, acc[j], n, oc0 + j, pixel, p);
}

// One input channel per output channel (group == channels).
template <typename T>
kernel void conv_depthwise(device const T* x [[buffer(0)]],
                           device const T* w [[buffer(1)]],
                           device const T* bias [[buffer(2)]],
                           device T* y [[buffer(3)]],
                           constant ConvParams& p [[buffer(4)]],
                           uint gid [[thread_position_in_grid]]) {
  const uint pixels = p.out_h * p.out_w;
  if (gid >= p.batch * p.out_c * pixels) return;
  const uint pixel = gid % pixels;
  const uint c = (gid / pixels) % p.out_c;
  const uint n = gid / (pixels * p.out_c);
  const int y0 = int((pixel / p.out_w) * p.stride_h) - p.pad_top;
  const int x0 = int((pixel % p.out_w) * p.stride_w) - p.pad_left;
  device const T* plane = x + (n * p.in_c + c) * p.in_h * p.in_w;
  device const T* filter = w + c * p.kernel_h * p.kernel_w;
  float acc = 0.0f;
  for (uint ky = 0; ky < p.kernel_h; ++ky) {
    const int iy = y0 + int(ky * p.dilation_h);
    if (iy < 0 || iy >= int(p.in_h)) continue;
    for (uint kx = 0; kx < p.kernel_w; ++kx) {
      const int ix = x0 + int(kx * p.dilation_w);
      if (ix < 0 || ix >= int(p.in_w)) continue;
      acc = fma(float(plane[uint(iy) * p.in_w + uint(ix)]), float(filter[ky * p.kernel_w + kx]), acc);
    }
  }
  conv_store(y, bias, acc, n, c, pixel, p);
}

// ConvTranspose: in/out are the transposed op's input/output; output pixel (oy, ox) receives input
// (iy, ix) through tap (ky, kx) when oy + pad_top = iy * stride + ky * dilation (likewise x).
template <typename T>
kernel void conv_transpose(device const T* x [[buffer(0)]],
                           device const T* w [[buffer(1)]],
                           device const T* bias [[buffer(2)]],
                           device T* y [[buffer(3)]],
                           constant ConvParams& p [[buffer(4)]],
                           uint gid [[thread_position_in_grid]]) {
  const uint pixels = p.out_h * p.out_w;
  if (gid >= p.batch * p.out_c * pixels) return;
  const uint pixel = gid % pixels;
  const uint oc = (gid / pixels) % p.out_c;
  const uint n = gid / (pixels * p.out_c);
  const uint group = oc / p.out_c_per_group, oc_in_group = oc % p.out_c_per_group;
  const int oy = int(pixel / p.out_w) + p.pad_top, ox = int(pixel % p.out_w) + p.pad_left;
  float acc = 0.0f;
  for (uint ky = 0; ky < p.kernel_h; ++ky) {
    const int ty = oy - int(ky * p.dilation_h);
    if (ty < 0 || ty % int(p.stride_h) != 0 || ty / int(p.stride_h) >= int(p.in_h)) continue;
    const uint iy = uint(ty) / p.stride_h;
    for (uint kx = 0; kx < p.kernel_w; ++kx) {
      const int tx = ox - int(kx * p.dilation_w);
      if (tx < 0 || tx % int(p.stride_w) != 0 || tx / int(p.stride_w) >= int(p.in_w)) continue;
      const uint ix = uint(tx) / p.stride_w;
      for (uint i = 0; i < p.in_c_per_group; ++i) {
        const uint ic = group * p.in_c_per_group + i;
        const float v = float(x[((n * p.in_c + ic) * p.in_h + iy) * p.in_w + ix]);
        const float k = float(w[((ic * p.out_c_per_group + oc_in_group) * p.kernel_h + ky) * p.kernel_w + kx]);
        acc = fma(v, k, acc);
      }
    }
  }
  conv_store(y, bias, acc, n, oc, pixel, p);
}

#define instantiate_conv(dtype, T, _)                                                           \
  instantiate_kernel(conv, direct, dtype, conv<0, T>)                                           \
  instantiate_kernel(conv, 3x3, dtype, conv<3, T>)                                              \
  instantiate_kernel(conv, depthwise, dtype, conv_depthwise<T>)                                 \
  instantiate_kernel(conv, transpose, dtype, conv_transpose<T>)
MNN_FLOAT_TYPES(instantiate_conv, )
