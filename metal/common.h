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
