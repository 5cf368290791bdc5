// QuantizeLinear (y = saturate(rint(x / scale) + zero_point), rint rounding half to even, clamped in
// ONNX Runtime's order) and DequantizeLinear (y = (x - zero_point) * scale), per tensor, axis or block.
// One thread per element; no threadgroup memory.
#include "common.h"

inline uint quant_scale_index(uint gid, constant QuantizeParams& p) {
  const uint i = gid % p.inner, row = gid / p.inner;
  const uint c = row % p.axis_len, o = row / p.axis_len;
  return o * p.scale_outer + (c / p.block) * p.scale_axis + i * p.scale_inner;
}

template <typename T, typename Q>
kernel void quantize_linear(device const T* x [[buffer(0)]],
                            device const T* scale [[buffer(1)]],
                            device const Q* zero_point [[buffer(2)]],
                            device Q* y [[buffer(3)]],
                            constant QuantizeParams& p [[buffer(4)]],
                            uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  const uint s = quant_scale_index(gid, p);
  const int zp = int(zero_point[s]);
  const float lo = float(p.qmin - zp), hi = float(p.qmax - zp);
  float r = float(x[gid]) / float(scale[s]);
  r = r > lo ? r : lo;  // NaN saturates low
  r = r < hi ? r : hi;
  y[gid] = Q(int(rint(r)) + zp);
}

template <typename Q, typename T>
kernel void dequantize_linear(device const Q* x [[buffer(0)]],
                              device const T* scale [[buffer(1)]],
                              device const Q* zero_point [[buffer(2)]],
                              device T* y [[buffer(3)]],
                              constant QuantizeParams& p [[buffer(4)]],
                              uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  const uint s = quant_scale_index(gid, p);
  y[gid] = T(float(int(x[gid]) - int(zero_point[s])) * float(scale[s]));
}

#define instantiate_quantize(dtype, T, _)                                              \
  instantiate_kernel(quantize_linear, i8, dtype, quantize_linear<T, char>)             \
  instantiate_kernel(quantize_linear, u8, dtype, quantize_linear<T, uchar>)            \
  instantiate_kernel(dequantize_linear, i8, dtype, dequantize_linear<char, T>)         \
  instantiate_kernel(dequantize_linear, u8, dtype, dequantize_linear<uchar, T>)        \
  instantiate_kernel(dequantize_linear, i32, dtype, dequantize_linear<int, T>)
MNN_FLOAT_TYPES(instantiate_quantize, )
