// InstanceNormalization / GroupNormalization: the rows of core/ops/group_norm.h (N * groups rows of
// (C / groups) * spatial elements), one SIMD-group per row (simd_sum for the mean, then the variance
// of the centred values). No threadgroup memory.
#include "common.h"

// y = (x - mean) * rsqrt(var + epsilon) * scale[p] + bias[p], p = ((row % groups) * width + i) / span.
template <typename T>
kernel void group_norm(device const T* x [[buffer(0)]],
                       device const T* scale [[buffer(1)]],
                       device const T* bias [[buffer(2)]],
                       device T* y [[buffer(3)]],
                       constant GroupNormParams& p [[buffer(4)]],
                       uint group [[threadgroup_position_in_grid]],
                       uint simd_group [[simdgroup_index_in_threadgroup]],
                       uint simd_groups [[simdgroups_per_threadgroup]],
                       uint lane [[thread_index_in_simdgroup]],
                       uint lanes [[threads_per_simdgroup]]) {
  const uint row = group * simd_groups + simd_group;
  if (row >= p.rows) return;  // uniform across the SIMD-group
  device const T* xr = x + row * p.width;
  device T* yr = y + row * p.width;
  float sum = 0.0f;
  for (uint i = lane; i < p.width; i += lanes) sum += float(xr[i]);
  const float mean = simd_sum(sum) / float(p.width);
  float sq = 0.0f;
  for (uint i = lane; i < p.width; i += lanes) {
    const float d = float(xr[i]) - mean;
    sq = fma(d, d, sq);
  }
  const float inv = 1.0f / sqrt(simd_sum(sq) / float(p.width) + p.epsilon);
  const uint first = (row % p.groups) * p.width;
  for (uint i = lane; i < p.width; i += lanes) {
    const uint c = (first + i) / p.span;
    yr[i] = T(fma((float(xr[i]) - mean) * inv, float(scale[c]), float(bias[c])));
  }
}

#define instantiate_group_norm(dtype, T, _) instantiate_kernel(group_norm, row, dtype, group_norm<T>)
MNN_FLOAT_TYPES(instantiate_group_norm, )
