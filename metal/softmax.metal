// Softmax / LogSoftmax over rows of n elements (stride `inner`): one SIMD-group per row, three
// passes (max, sum of exponentials, write) with simd_max/simd_sum. No threadgroup memory.
#include "common.h"

template <bool Log, typename T>
kernel void softmax(device const T* x [[buffer(0)]],
                    device T* y [[buffer(1)]],
                    constant SoftmaxParams& p [[buffer(2)]],
                    uint group [[threadgroup_position_in_grid]],
                    uint simd_group [[simdgroup_index_in_threadgroup]],
                    uint simd_groups [[simdgroups_per_threadgroup]],
                    uint lane [[thread_index_in_simdgroup]],
                   uint lanes [[threads_per_simdgroup]]) {
  const uint row = group * simd_groups + simd_group;
  if (row >= p.rows) return;  // uniform across the SIMD-group
  const uint base = (row / p.inner) * p.n * p.inner + row % p.inner;
  float peak = -INFINITY;
  for (uint j = lane; j < p.n; j += lanes) peak = max(peak, float(x[base + j * p.inner]));
  peak = simd_max(peak);
  float sum = 0.0f;
  for (uint j = lane; j < p.n; j += lanes) sum += exp(float(x[base + j * p.inner]) - peak);
  sum = simd_sum(sum);
  const float log_sum = log(sum);
  const float inverse = 1.0f / sum;
  for (uint j = lane; j < p.n; j += lanes) {
    const float shifted = float(x[base + j * p.inner]) - peak;
    y[base + j * p.inner] = T(Log ? shifted - log_sum : exp(shifted) * inverse);
  }
}

#define instantiate_softmax(dtype, T, _)                                                        \
  instantiate_kernel(softmax, exp, dtype, softmax<false, T>)                                    \
  instantiate_kernel(softmax, log, dtype, softmax<true, T>)
MNN_FLOAT_TYPES(instantiate_softmax, )
