// The fused quantized ops (core/ops/qfused.h): int8/uint8 activations times int8 weights summed in
// int32, then requantised per output channel (v = (sum + bias_sum[c]) * multiplier[c] + bias[c],
// clamped, rint half to even, + zero point). One thread per output element; no threadgroup memory.
#include "common.h"

inline int requantize(int sum, float multiplier, float bias, constant Requantize& q) {
  float v = float(sum) * multiplier + bias;
  v = v > q.lo ? v : q.lo;
  v = v < q.hi ? v : q.hi;
  return int(rint(v)) + q.y_zero;
}

template <typename X, typename Y>
kernel void quantized_conv(device const X* x [[buffer(0)]],
                           device const char* w [[buffer(1)]],
                           device const float* multiplier [[buffer(2)]],
                           device const float* bias [[buffer(3)]],
                           device Y* y [[buffer(4)]],
                           constant QuantizedConvParams& p [[buffer(5)]],
                           device const int* bias_sum [[buffer(6)]],
                           uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  const uint ow = gid % p.out_w;
  uint t = gid / p.out_w;
  const uint oh = t % p.out_h;
  t /= p.out_h;
  const uint m = t % p.out_c, b = t / p.out_c;
  const uint c0 = (m / p.group_out_c) * p.group_in_c;
  const int ih0 = int(oh * p.stride_h) - int(p.pad_top), iw0 = int(ow * p.stride_w) - int(p.pad_left);
  int acc = 0;
  for (uint c = 0; c < p.group_in_c; ++c) {
    device const X* plane = x + (b * p.in_c + c0 + c) * p.in_h * p.in_w;
    device const char* taps = w + (m * p.group_in_c + c) * p.kernel_h * p.kernel_w;
    for (uint i = 0; i < p.kernel_h; ++i) {
      const int ih = ih0 + int(i * p.dilation_h);
      if (ih < 0 || ih >= int(p.in_h)) continue;
      for (uint j = 0; j < p.kernel_w; ++j) {
        const int iw = iw0 + int(j * p.dilation_w);
        if (iw < 0 || iw >= int(p.in_w)) continue;
        acc += (int(plane[uint(ih) * p.in_w + uint(iw)]) - p.q.x_zero) * int(taps[i * p.kernel_w + j]);
      }
    }
  }
  y[gid] = Y(requantize(acc + bias_sum[m], multiplier[m], bias[m], p.q));
}

template <typename X, typename Y>
kernel void quantized_matmul(device const X* a [[buffer(0)]],
                             device const char* w [[buffer(1)]],
                             device const float* multiplier [[buffer(2)]],
                             device const float* bias [[buffer(3)]],
                             device Y* y [[buffer(4)]],
                             constant QuantizedMatMulParams& p [[buffer(5)]],
                             device const int* bias_sum [[buffer(6)]],
                             uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  const uint m = gid / p.n, n = gid % p.n;
  device const X* row = a + m * p.k;
  int acc = 0;
  for (uint k = 0; k < p.k; ++k) acc += (int(row[k]) - p.q.x_zero) * int(w[k * p.n + n]);
  y[gid] = Y(requantize(acc + bias_sum[n], multiplier[n], bias[n], p.q));
}

template <typename A, typename B, typename Y>
kernel void quantized_add(device const A* a [[buffer(0)]],
                          device const B* b [[buffer(1)]],
                          device Y* y [[buffer(2)]],
                          constant QuantizedAddParams& p [[buffer(3)]],
                          uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  float v = float(int(a[gid]) - p.a_zero) * p.a_multiplier + float(int(b[gid]) - p.b_zero) * p.b_multiplier;
  v = v > p.q.lo ? v : p.q.lo;
  v = v < p.q.hi ? v : p.q.hi;
  y[gid] = Y(int(rint(v)) + p.q.y_zero);
}

#define instantiate_quantized_gemm(x, X, y, Y)                                   \
  instantiate_kernel(quantized_conv, x, y, quantized_conv<X, Y>)                 \
  instantiate_kernel(quantized_matmul, x, y, quantized_matmul<X, Y>)
instantiate_quantized_gemm(i8, char, i8, char)
instantiate_quantized_gemm(i8, char, u8, uchar)
instantiate_quantized_gemm(u8, uchar, i8, char)
instantiate_quantized_gemm(u8, uchar, u8, uchar)

#define instantiate_quantized_add(a, A, b, B)                                                   \
  instantiate_kernel(quantized_add, a##_##b, i8, quantized_add<A, B, char>)                     \
  instantiate_kernel(quantized_add, a##_##b, u8, quantized_add<A, B, uchar>)
instantiate_quantized_add(i8, char, i8, char)
instantiate_quantized_add(i8, char, u8, uchar)
instantiate_quantized_add(u8, uchar, i8, char)
instantiate_quantized_add(u8, uchar, u8, uchar)
