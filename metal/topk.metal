// TopK, sorted, ties to the lower index: each element counts the elements of its row ranked before
// it and, when that rank is below k, writes itself to that output slot. One thread per input element
// (O(n) reads each); no threadgroup memory. dtype: f32/f16/i32/i64.
#include "common.h"

template <typename T>
kernel void topk(device const T* x [[buffer(0)]],
                 device T* values [[buffer(1)]],
                 device long* indices [[buffer(2)]],
                 constant TopKParams& p [[buffer(3)]],
                 uint gid [[thread_position_in_grid]]) {
  if (gid >= p.rows * p.n) return;
  const uint row = gid / p.n, i = gid % p.n;
  const uint outer = row / p.inner, inner = row % p.inner;
  device const T* xr = x + outer * p.n * p.inner + inner;
  const T v = xr[i * p.inner];
  uint rank = 0;
  for (uint j = 0; j < p.n && rank < p.k; ++j) {
    const T u = xr[j * p.inner];
    const bool before = p.largest ? u > v : u < v;
    rank += (before || (u == v && j < i)) ? 1u : 0u;
  }
  if (rank >= p.k) return;
  const uint out = (outer * p.k + rank) * p.inner + inner;
  values[out] = v;
  indices[out] = long(i);
}

#define instantiate_topk(dtype, T, _) instantiate_kernel(topk, sort, dtype, topk<T>)
MNN_FLOAT_TYPES(instantiate_topk, )
instantiate_topk(i32, int, )
instantiate_topk(i64, long, )
