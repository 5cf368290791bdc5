// CumSum: the tensor as [outer, axis, inner]; one thread per (outer, inner) column runs its running
// sum along the axis (forward or reverse, inclusive or exclusive). No threadgroup memory.
#include "common.h"

// Acc: the type the sum is kept in (float for half, as for float).
template <typename T, typename Acc>
kernel void cumsum(device const T* x [[buffer(0)]],
                   device T* y [[buffer(1)]],
                   constant CumSumParams& p [[buffer(2)]],
                   uint gid [[thread_position_in_grid]]) {
  if (gid >= p.columns) return;
  const int step = p.reverse ? -int(p.inner) : int(p.inner);
  int at = int((gid / p.inner) * p.n * p.inner + gid % p.inner) + (p.reverse ? int((p.n - 1) * p.inner) : 0);
  Acc sum = Acc(0);
  for (uint a = 0; a < p.n; ++a, at += step) {
    const Acc v = Acc(x[at]);
    if (p.exclusive) {
      y[at] = T(sum);
      sum += v;
    } else {
      sum += v;
      y[at] = T(sum);
    }
  }
}

#define instantiate_cumsum(dtype, T, Acc) instantiate_kernel(cumsum, scan, dtype, cumsum<T, Acc>)
instantiate_cumsum(f32, float, float)
instantiate_cumsum(f16, half, float)
instantiate_cumsum(i32, int, int)
instantiate_cumsum(i64, long, long)
