// LayerNormalization: one SIMD-group per row (simd_sum for mean, then variance of centred values).
// No threadgroup memory.
#include "common.h"

// y = (x - mean) * rsqrt(var + epsilon) * scale + bias over each row; Stats also writes mean and
// 1/stddev per row.
template <bool Stats, typename T>
kernel void layer_norm(device const T* x [[buffer(0)]],
                       device const T* scale [[buffer(1)]],
                       device const T* bias [[buffer(2)]],
                       device T* y [[buffer(3)]],
                       device T* mean_out [[buffer(4)]],
                       device T* inv_out [[buffer(5)]],
                       constant LayerNormParams& p [[buffer(6)]],
                       uint group [[threadgroup_position_in_grid]],
                       uint simd_group [[simdgroup_index_in_threadgroup]],
                       uint simd_groups [[simdgroups_per_threadgroup]],
                       uint lane [[thread_index_in_simdgroup]],
                       uint lanes [[threads_per_simdgroup]]) {
  const uint row = group * simd_groups + simd_group;
  if (row >= p.rows) return;  // uniform across the SIMD-group
  device const T* xr = x + row * p.width;
  float sum = 0.0f;
  for (uint i = lane; i < p.width; i += lanes) sum += float(xr[i]);
  const float mean = simd_sum(sum) / float(p.width);
  float sq = 0.0f;
  for (uint i = lane; i < p.width; i += lanes) {
    const float d = float(xr[i]) - mean;
    sq = fma(d, d, sq);
  }
  const float inv = 1.0f / sqrt(simd_sum(sq) / float(p.width) + p.epsilon);
  for (uint i = lane; i < p.width; i += lanes) {
    const float g = float(scale[strided_offset(i, p.rank, p.shape, p.scale_strides)]);
    const float b = p.has_bias ? float(bias[strided_offset(i, p.rank, p.shape, p.bias_strides)]) : 0.0f;
    y[row * p.width + i] = T(fma((float(xr[i]) - mean) * inv, g, b));
  }
  if (Stats && lane == 0) {
    mean_out[row] = T(mean);
    inv_out[row] = T(inv);
  }
}

#define instantiate_layer_norm(dtype, T, _)                                                     \
  instantiate_kernel(layer_norm, row, dtype, layer_norm<false, T>)                              \
  instantiate_kernel(layer_norm, stats, dtype, layer_norm<true, T>)
MNN_FLOAT_TYPES(instantiate_layer_norm, )
