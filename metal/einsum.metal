// Einsum as a direct sum: each output element walks the summed labels' index space and accumulates
// the product of its (up to 3) operands. One thread per output element; no threadgroup memory.
// Accumulates in float for f32/f16, in the integer type itself for i64 and i32 (wrapping as on cpu).
#include "common.h"

template <typename T, typename Acc>
kernel void einsum(device const T* x0 [[buffer(0)]],
                   device const T* x1 [[buffer(1)]],
                   device const T* x2 [[buffer(2)]],
                   device T* y [[buffer(3)]],
                   constant EinsumParams& p [[buffer(4)]],
                   uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  device const T* x[3] = {x0, x1, x2};
  uint base[3] = {0, 0, 0};
  uint rest = gid;
  for (int d = int(p.out_rank) - 1; d >= 0; --d) {
    const uint coord = rest % p.out_shape[d];
    rest /= p.out_shape[d];
    for (uint i = 0; i < p.inputs; ++i) base[i] += coord * p.out_strides[i][d];
  }
  Acc acc = Acc(0);
  for (uint s = 0; s < p.sum_count; ++s) {
    Acc term = Acc(1);
    for (uint i = 0; i < p.inputs; ++i)
      term *= Acc(x[i][base[i] + strided_offset(s, p.sum_rank, p.sum_shape, p.sum_strides[i])]);
    acc += term;
  }
  y[gid] = T(acc);
}

#define instantiate_einsum(dtype, T, _) instantiate_kernel(einsum, direct, dtype, einsum<T, float>)
MNN_FLOAT_TYPES(instantiate_einsum, )
instantiate_kernel(einsum, direct, i64, einsum<long, long>)
instantiate_kernel(einsum, direct, i32, einsum<int, int>)
