// ReduceSum/Mean/Max/Min and the global pools: each SIMD-group reduces one output element, its
// lanes striding over the reduced elements, then simd_sum/simd_max/simd_min. 8 SIMD-groups per
// threadgroup. No threadgroup memory.
#include "common.h"

struct ReduceSum {
  static float init() { return 0.0f; }
  static float combine(float a, float b) { return a + b; }
  static float simd(float v) { return simd_sum(v); }
};
struct ReduceMax {
  static float init() { return -INFINITY; }
  static float combine(float a, float b) { return max(a, b); }
  static float simd(float v) { return simd_max(v); }
};
struct ReduceMin {
  static float init() { return INFINITY; }
  static float combine(float a, float b) { return min(a, b); }
  static float simd(float v) { return simd_min(v); }
};

template <typename Op, typename T>
kernel void reduce(device const T* x [[buffer(0)]],
                   device T* y [[buffer(1)]],
                   constant ReduceParams& p [[buffer(2)]],
                   uint group [[threadgroup_position_in_grid]],
                   uint simd_group [[simdgroup_index_in_threadgroup]],
                   uint simd_groups [[simdgroups_per_threadgroup]],
                   uint lane [[thread_index_in_simdgroup]],
                   uint lanes [[threads_per_simdgroup]]) {
  const uint out = group * simd_groups + simd_group;
  if (out >= p.out_count) return;  // uniform across the SIMD-group
  const uint base = strided_offset(out, p.kept_rank, p.kept_shape, p.kept_strides);
  float acc = Op::init();
  for (uint j = lane; j < p.red_count; j += lanes) {
    acc = Op::combine(acc, float(x[base + strided_offset(j, p.red_rank, p.red_shape, p.red_strides)]));
  }
  acc = Op::simd(acc);
  if (lane == 0) y[out] = T(acc * p.scale);
}

#define instantiate_reduce(dtype, T, _)                                                         \
  instantiate_kernel(reduce, sum, dtype, reduce<ReduceSum, T>)                                  \
  instantiate_kernel(reduce, max, dtype, reduce<ReduceMax, T>)                                  \
  instantiate_kernel(reduce, min, dtype, reduce<ReduceMin, T>)
MNN_FLOAT_TYPES(instantiate_reduce, )
