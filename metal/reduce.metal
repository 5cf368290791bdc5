// ReduceSum/Mean/Max/Min/Prod/L2/LogSumExp and the global pools: each SIMD-group reduces one output element, its
// lanes striding over the reduced elements, then simd_sum/simd_max/simd_min. 8 SIMD-groups per
// threadgroup. No threadgroup memory.
#include "common.h"

// Each element passes through map() before combine(); finish() turns the SIMD-group's result into the output.
struct ReduceSum {
  static float init() { return 0.0f; }
  static float map(float x) { return x; }
  static float combine(float a, float b) { return a + b; }
  static float simd(float v) { return simd_sum(v); }
  static float finish(float v) { return v; }
};
struct ReduceMax {
  static float init() { return -INFINITY; }
  static float map(float x) { return x; }
  static float combine(float a, float b) { return max(a, b); }
  static float simd(float v) { return simd_max(v); }
  static float finish(float v) { return v; }
};
struct ReduceMin {
  static float init() { return INFINITY; }
  static float map(float x) { return x; }
  static float combine(float a, float b) { return min(a, b); }
  static float simd(float v) { return simd_min(v); }
  static float finish(float v) { return v; }
};
struct ReduceProd {
  static float init() { return 1.0f; }
  static float map(float x) { return x; }
  static float combine(float a, float b) { return a * b; }
  static float simd(float v) { return simd_product(v); }
  static float finish(float v) { return v; }
};
struct ReduceL2 {
  static float init() { return 0.0f; }
  static float map(float x) { return x * x; }
  static float combine(float a, float b) { return a + b; }
  static float simd(float v) { return simd_sum(v); }
  static float finish(float v) { return sqrt(v); }
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
    acc = Op::combine(acc, Op::map(float(x[base + strided_offset(j, p.red_rank, p.red_shape, p.red_strides)])));
  }
  acc = Op::simd(acc);
  if (lane == 0) y[out] = T(Op::finish(acc) * p.scale);
}

// log(sum(e^(x - m))) + m with m the max (0 when it is infinite): two passes over the elements.
template <typename T>
kernel void reduce_logsumexp(device const T* x [[buffer(0)]],
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
  float m = -INFINITY;
  for (uint j = lane; j < p.red_count; j += lanes) {
    m = max(m, float(x[base + strided_offset(j, p.red_rank, p.red_shape, p.red_strides)]));
  }
  m = simd_max(m);
  if (isinf(m)) m = 0.0f;
  float acc = 0.0f;
  for (uint j = lane; j < p.red_count; j += lanes) {
    acc += exp(float(x[base + strided_offset(j, p.red_rank, p.red_shape, p.red_strides)]) - m);
  }
  acc = simd_sum(acc);
  if (lane == 0) y[out] = T(log(acc) + m);
}

#define instantiate_reduce(dtype, T, _)                                                         \
  instantiate_kernel(reduce, sum, dtype, reduce<ReduceSum, T>)                                  \
  instantiate_kernel(reduce, max, dtype, reduce<ReduceMax, T>)                                  \
  instantiate_kernel(reduce, min, dtype, reduce<ReduceMin, T>)                                  \
  instantiate_kernel(reduce, prod, dtype, reduce<ReduceProd, T>)                                \
  instantiate_kernel(reduce, l2, dtype, reduce<ReduceL2, T>)                                    \
  instantiate_kernel(reduce, logsumexp, dtype, reduce_logsumexp<T>)
MNN_FLOAT_TYPES(instantiate_reduce, )
// Bool ReduceMax/Min (any/all): 0 and 1 survive the float accumulator exactly.
instantiate_kernel(reduce, max, b8, reduce<ReduceMax, uchar>)
instantiate_kernel(reduce, min, b8, reduce<ReduceMin, uchar>)

