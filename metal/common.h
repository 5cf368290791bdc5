// Shared by every kernel file: the instantiation macro that builds host names, the fused activation
// epilogue and index helpers. float16 kernels store half and compute in float.
#pragma once
#include <metal_stdlib>
#include "params.h"
using namespace metal;

// Host name <op>_<variant>_<dtype>; cpp/gpu/kernel_name.cpp builds the same string.
#define instantiate_kernel(op, variant, dtype, ...)                                       \
  template [[host_name(#op "_" #variant "_" #dtype)]] [[kernel]] decltype(__VA_ARGS__) __VA_ARGS__;

// The storage types behind the dtype suffixes.
#define MNN_FLOAT_TYPES(X, ...) X(f32, float, __VA_ARGS__) X(f16, half, __VA_ARGS__)
// Kernels that only move elements, by width (gpu::width_suffix): bool/uint8/int8, half, float/int32, int64.
#define MNN_WIDTH_TYPES(X, ...) X(u8, uchar, __VA_ARGS__) X(u16, ushort, __VA_ARGS__) \
  X(u32, uint, __VA_ARGS__) X(u64, ulong, __VA_ARGS__)

// min/max/clamp return the other operand for a NaN (fmin/fmax semantics), which would turn a NaN
// activation into a number; these comparisons keep it NaN, as the cpu device and ONNX Runtime do.
inline float relu_keep_nan(float x) { return x < 0.0f ? 0.0f : x; }
// min(max(x, lo), hi) as ONNX defines Clip: hi wins when lo > hi.
inline float clamp_keep_nan(float x, float lo, float hi) {
  const float raised = x < lo ? lo : x;
  return raised > hi ? hi : raised;
}

// erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7); MSL has no erf.
inline float erf_approx(float x) {
  const float t = 1.0f / (1.0f + 0.3275911f * abs(x));
  const float poly =
      t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
  const float y = 1.0f - poly * exp(-x * x);
  return x >= 0.0f ? y : -y;
}
inline float gelu_erf(float x) { return 0.5f * x * (1.0f + erf_approx(x * 0.70710678f)); }
inline float gelu_tanh(float x) { return 0.5f * x * (1.0f + tanh(0.79788456f * (x + 0.044715f * x * x * x))); }

inline float activate(float x, Epilogue e) {
  switch (e.activation) {
    case kActRelu: return relu_keep_nan(x);
    case kActLeakyRelu: return x >= 0.0f ? x : x * e.alpha;
    case kActClip: return clamp_keep_nan(x, e.alpha, e.beta);
    case kActSigmoid: return 1.0f / (1.0f + exp(-x));
    case kActHardSigmoid: return clamp_keep_nan(e.alpha * x + e.beta, 0.0f, 1.0f);
    case kActHardSwish: return x * clamp_keep_nan(x / 6.0f + 0.5f, 0.0f, 1.0f);
    case kActTanh: return tanh(x);
    case kActSwish: return x / (1.0f + exp(-e.alpha * x));
    case kActGelu: return gelu_erf(x);
    case kActGeluTanh: return gelu_tanh(x);
    default: return x;
  }
}

// Offset of linear index i of a row-major `shape` under `strides`.
inline uint strided_offset(uint i, uint rank, constant uint* shape, constant uint* strides) {
  uint offset = 0;
  for (int d = int(rank) - 1; d >= 0; --d) {
    const uint extent = shape[d];
    offset += (i % extent) * strides[d];
    i /= extent;
  }
  return offset;
}
