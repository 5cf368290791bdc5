// out[i] = a[i] * scale + b[i] for i < count; one thread per element, no threadgroup memory.
#include <metal_stdlib>
using namespace metal;

struct AxpbyParams {
  uint count;
  float scale;
};

kernel void axpby_f32(device const float* a [[buffer(0)]],
                      device const float* b [[buffer(1)]],
                      device float* out [[buffer(2)]],
                      constant AxpbyParams& params [[buffer(3)]],
                      uint gid [[thread_position_in_grid]]) {
  if (gid >= params.count) {
    return;
  }
  out[gid] = a[gid] * params.scale + b[gid];
}
