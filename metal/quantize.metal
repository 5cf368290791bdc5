// QuantizeLinear (y = saturate(rint(x / scale) + zero_point), rint rounding half to even, clamped in
// ONNX Runtime's order) and DequantizeLinear (y = (x - zero_point) * scale), per tensor, axis or block.
// One thread per element; no threadgroup memory. DynamicQuantizeLinear's scale and zero point come
// from one SIMD-group striding over the input (simd_min/simd_max), before the quantize.
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

// DynamicQuantizeLinear's uint8 parameters: the range of x widened to include 0 spread over [0, 255].
template <typename T>
kernel void dynamic_quantize(device const T* x [[buffer(0)]],
                             device T* scale [[buffer(1)]],
                             device uchar* zero_point [[buffer(2)]],
                             constant QuantizeParams& p [[buffer(3)]],
                             uint simd_group [[simdgroup_index_in_threadgroup]],
                             uint lane [[thread_index_in_simdgroup]],
                             uint lanes [[threads_per_simdgroup]]) {
  if (simd_group != 0) return;  // uniform across the SIMD-group
  float lo = 0.0f, hi = 0.0f;
  for (uint j = lane; j < p.count; j += lanes) {
    const float v = float(x[j]);
    lo = min(lo, v);
    hi = max(hi, v);
  }
  lo = simd_min(lo);
  hi = simd_max(hi);
  if (lane == 0) {
    const float s = hi == lo ? 1.0f : (hi - lo) / 255.0f;
    scale[0] = T(s);
    zero_point[0] = uchar(rint(clamp(-lo / s, 0.0f, 255.0f)));
  }
}

#define instantiate_quantize(dtype, T, _)                                              \
  instantiate_kernel(quantize_linear, i8, dtype, quantize_linear<T, char>)             \
  instantiate_kernel(quantize_linear, u8, dtype, quantize_linear<T, uchar>)            \
  instantiate_kernel(dequantize_linear, i8, dtype, dequantize_linear<char, T>)         \
  instantiate_kernel(dequantize_linear, u8, dtype, dequantize_linear<uchar, T>)        \
  instantiate_kernel(dequantize_linear, i32, dtype, dequantize_linear<int, T>)         \
  instantiate_kernel(dynamic_quantize, params, dtype, dynamic_quantize<T>)
MNN_FLOAT_TYPES(instantiate_quantize, )
