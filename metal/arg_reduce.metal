// ArgMax/ArgMin over the input viewed as [outer, axis, inner]: one thread per output index, walking
// its column. No threadgroup memory.
#include "common.h"

// Index (int64) of the first, or with select_last the last, largest/smallest element of each row.
template <bool Max, typename T>
kernel void arg_reduce(device const T* x [[buffer(0)]],
                       device long* y [[buffer(1)]],
                       constant ArgReduceParams& p [[buffer(2)]],
                       uint gid [[thread_position_in_grid]]) {
  if (gid >= p.rows) return;
  device const T* xr = x + (gid / p.inner) * p.n * p.inner + gid % p.inner;
  T best = xr[0];
  uint at = 0;
  for (uint j = 1; j < p.n; ++j) {
    const T v = xr[j * p.inner];
    const bool better = Max ? v > best : v < best;
    if (better || (p.select_last && v == best)) {
      best = v;
      at = j;
    }
  }
  y[gid] = long(at);
}

#define instantiate_arg_reduce(dtype, T, _)                                                     \
  instantiate_kernel(arg_reduce, max, dtype, arg_reduce<true, T>)                               \
  instantiate_kernel(arg_reduce, min, dtype, arg_reduce<false, T>)
MNN_FLOAT_TYPES(instantiate_arg_reduce, )
instantiate_arg_reduce(i32, int, )
instantiate_arg_reduce(i64, long, )
