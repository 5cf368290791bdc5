// Gather along one axis: out[o][i][r] = x[o][index[i]][r] with negative indices counted from the end.
// One thread per output element; no threadgroup memory. Variants: index type; dtype: element width.
#include "common.h"

template <typename Index, typename T>
kernel void gather(device const T* x [[buffer(0)]],
                   device const Index* indices [[buffer(1)]],
                   device T* y [[buffer(2)]],
                   constant GatherParams& p [[buffer(3)]],
                   uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  const uint r = gid % p.inner;
  const uint i = (gid / p.inner) % p.index_count;
  const uint o = gid / (p.inner * p.index_count);
  long index = long(indices[i]);
  if (index < 0) index += long(p.axis_len);
  // Out-of-range run-time indices read the nearest row instead of faulting.
  const uint row = index < 0 ? 0u : index >= long(p.axis_len) ? p.axis_len - 1 : uint(index);
  y[gid] = x[(o * p.axis_len + row) * p.inner + r];
}

#define instantiate_gather(width, T, index, Index) instantiate_kernel(gather, index, width, gather<Index, T>)
#define instantiate_gather_widths(index, Index)                                                 \
  instantiate_gather(u16, ushort, index, Index) instantiate_gather(u32, uint, index, Index)      \
  instantiate_gather(u64, ulong, index, Index)
instantiate_gather_widths(i32, int)
instantiate_gather_widths(i64, long)
