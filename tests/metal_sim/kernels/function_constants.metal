// y = x * alpha (+ bias when has_bias): function constants choose the variant at pipeline creation;
// the bias buffer exists only when has_bias. One thread per element, no threadgroup memory.
#include <metal_stdlib>
using namespace metal;

constant bool has_bias [[function_constant(0)]];
constant float alpha [[function_constant(1)]];
constant bool without_bias = !has_bias;

kernel void scale_bias_f32(device const float* x [[buffer(0)]],
                           device const float* bias [[buffer(1), function_constant(has_bias)]],
                           device float* y [[buffer(2)]],
                           constant uint& count [[buffer(3)]],
                           uint gid [[thread_position_in_grid]]) {
  if (gid >= count) {
    return;
  }
  float v = x[gid] * alpha;
  if (!without_bias) {
    v += bias[gid];
  }
  y[gid] = v;
}
