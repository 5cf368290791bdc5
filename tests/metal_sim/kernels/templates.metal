// y = x * Factor for several element types and factors: one template kernel, instantiated under
// host names scale_by<Factor>_<dtype>. One thread per element, no threadgroup memory.
#include <metal_stdlib>
using namespace metal;

template <typename T, int Factor>
kernel void scale_by(device const T* x [[buffer(0)]],
                     device T* y [[buffer(1)]],
                     uint gid [[thread_position_in_grid]]) {
  y[gid] = x[gid] * T(Factor);
}

#define instantiate_scale_by(dtype, T, factor) \
  template [[host_name("scale_by" #factor "_" #dtype)]] [[kernel]] decltype(scale_by<T, factor>) scale_by<T, factor>;

instantiate_scale_by(f32, float, 2)
instantiate_scale_by(f32, float, 3)
instantiate_scale_by(i32, int, 2)
instantiate_scale_by(f16, half, 5)
