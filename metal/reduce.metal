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

// Integer and bool reductions accumulate exactly in A (int for int32 and bool, long for int64), lanes
// combining by a butterfly of shuffles; 64-bit values shuffle as two 32-bit halves, the widest the
// SIMD-group functions take.
template <typename A> struct int_limits;
template <> struct int_limits<int> {
  static int lowest() { return -2147483647 - 1; }
  static int highest() { return 2147483647; }
};
template <> struct int_limits<long> {
  static long lowest() { return -9223372036854775807L - 1L; }
  static long highest() { return 9223372036854775807L; }
};
inline int shuffle_xor(int v, ushort mask) { return simd_shuffle_xor(v, mask); }
inline long shuffle_xor(long v, ushort mask) {
  const uint2 halves = as_type<uint2>(v);
  return as_type<long>(uint2(simd_shuffle_xor(halves.x, mask), simd_shuffle_xor(halves.y, mask)));
}
struct IntSum {
  template <typename A> static A init() { return A(0); }
  template <typename A> static A combine(A a, A b) { return a + b; }
};
struct IntProd {
  template <typename A> static A init() { return A(1); }
  template <typename A> static A combine(A a, A b) { return a * b; }
};
struct IntMax {
  template <typename A> static A init() { return int_limits<A>::lowest(); }
  template <typename A> static A combine(A a, A b) { return max(a, b); }
};
struct IntMin {
  template <typename A> static A init() { return int_limits<A>::highest(); }
  template <typename A> static A combine(A a, A b) { return min(a, b); }
};
// Bool ReduceMax/Min: any/all, false/true when nothing is reduced.
struct BoolAny : IntMax {
  template <typename A> static A init() { return A(0); }
};
struct BoolAll : IntMin {
  template <typename A> static A init() { return A(1); }
};

// Mean divides the sum, truncating toward zero (0 when nothing is reduced), as the cpu device does.
template <typename Op, typename T, typename A, bool Mean>
kernel void reduce_integer(device const T* x [[buffer(0)]],
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
  A acc = Op::template init<A>();
  for (uint j = lane; j < p.red_count; j += lanes) {
    acc = Op::combine(acc, A(x[base + strided_offset(j, p.red_rank, p.red_shape, p.red_strides)]));
  }
  for (uint mask = lanes / 2; mask > 0; mask /= 2) acc = Op::combine(acc, shuffle_xor(acc, ushort(mask)));
  if (lane != 0) return;
  if (Mean) acc = p.red_count ? acc / A(p.red_count) : A(0);
  y[out] = T(acc);
}

#define instantiate_reduce(dtype, T, _)                                                         \
  instantiate_kernel(reduce, sum, dtype, reduce<ReduceSum, T>)                                  \
  instantiate_kernel(reduce, max, dtype, reduce<ReduceMax, T>)                                  \
  instantiate_kernel(reduce, min, dtype, reduce<ReduceMin, T>)                                  \
  instantiate_kernel(reduce, prod, dtype, reduce<ReduceProd, T>)                                \
  instantiate_kernel(reduce, l2, dtype, reduce<ReduceL2, T>)                                    \
  instantiate_kernel(reduce, logsumexp, dtype, reduce_logsumexp<T>)
MNN_FLOAT_TYPES(instantiate_reduce, )
#define instantiate_reduce_integer(dtype, T, _)                                                 \
  instantiate_kernel(reduce, sum, dtype, reduce_integer<IntSum, T, T, false>)                   \
  instantiate_kernel(reduce, mean, dtype, reduce_integer<IntSum, T, T, true>)                   \
  instantiate_kernel(reduce, max, dtype, reduce_integer<IntMax, T, T, false>)                   \
  instantiate_kernel(reduce, min, dtype, reduce_integer<IntMin, T, T, false>)                   \
  instantiate_kernel(reduce, prod, dtype, reduce_integer<IntProd, T, T, false>)
instantiate_reduce_integer(i32, int, )
instantiate_reduce_integer(i64, long, )
instantiate_kernel(reduce, max, b8, reduce_integer<BoolAny, uchar, int, false>)
instantiate_kernel(reduce, min, b8, reduce_integer<BoolAll, uchar, int, false>)
