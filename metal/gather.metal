// Gather along one axis: out[o][i][r] = x[o][index[i]][r]; GatherElements: out[i] = x[i with its
// `axis` coordinate replaced by index[i]]. Negative indices count from the end. One thread per output
// element; no threadgroup memory. Variants: index type; dtype: element width.
#include "common.h"

// Out-of-range run-time indices read the nearest element instead of faulting.
inline uint clamp_index(long index, uint len) {
  if (index < 0) index += long(len);
  return index < 0 ? 0u : index >= long(len) ? len - 1 : uint(index);
}

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
  const uint row = clamp_index(long(indices[i]), p.axis_len);
  y[gid] = x[(o * p.axis_len + row) * p.inner + r];
}

template <typename Index, typename T>
kernel void gather_elements(device const T* x [[buffer(0)]],
                            device const Index* indices [[buffer(1)]],
                            device T* y [[buffer(2)]],
                            constant GatherElementsParams& p [[buffer(3)]],
                            uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  uint offset = 0;
  uint i = gid;
  for (int d = int(p.rank) - 1; d >= 0; --d) {
    const uint coord = d == int(p.axis) ? clamp_index(long(indices[gid]), p.axis_len) : i % p.shape[d];
    offset += coord * p.data_strides[d];
    i /= p.shape[d];
  }
  y[gid] = x[offset];
}

#define instantiate_gather(width, T, index, Index)                                              \
  instantiate_kernel(gather, index, width, gather<Index, T>)                                    \
  instantiate_kernel(gather_elements, index, width, gather_elements<Index, T>)
#define instantiate_gather_widths(index, Index)                                                 \
  instantiate_gather(u8, uchar, index, Index) instantiate_gather(u16, ushort, index, Index)      \
  instantiate_gather(u32, uint, index, Index) instantiate_gather(u64, ulong, index, Index)
instantiate_gather_widths(i32, int)
instantiate_gather_widths(i64, long)
