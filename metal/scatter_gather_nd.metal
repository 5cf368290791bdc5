// GatherND: out[t][s] = x[offset of index tuple t + s]; ScatterND: y[offset of tuple t + s] (op)= u[t][s];
// ScatterElements: y[u's coordinates, the `axis` one replaced by index] (op)= u. Out-of-range indices
// (after counting negatives from the end) are clamped to the dim by GatherND and skipped by the
// scatters, never read or written out of bounds. Thread mapping: GatherND and ScatterND without a
// reduction, one thread per element (duplicate scatter indices: any one update wins, as ONNX
// leaves it); ScatterND with a reduction, one thread per slice element walking the tuples in order;
// ScatterElements, one thread per line of updates along `axis`, in order. No threadgroup memory.
#include "common.h"

// Index v of a dim of `len` (negative from the end); `ok` false when outside it.
inline uint tuple_index(long v, uint len, thread bool& ok) {
  if (v < 0) v += long(len);
  ok = ok && v >= 0 && v < long(len);
  return v < 0 ? 0u : v >= long(len) ? len - 1 : uint(v);
}

// Data offset of tuple `row` (batch entry row / tuples).
template <typename Index>
inline uint tuple_offset(device const Index* indices, uint row, constant IndexTupleParams& p, thread bool& ok) {
  uint offset = (row / p.tuples) * p.batch_stride;
  for (uint j = 0; j < p.k; ++j) offset += tuple_index(long(indices[row * p.k + j]), p.dims[j], ok) * p.strides[j];
  return offset;
}

template <uint R, typename T>
inline T scatter_combine(T old, T v) {
  switch (R) {
    case kScatterAdd: return T(old + v);
    case kScatterMul: return T(old * v);
    case kScatterMax: return v > old ? v : old;
    case kScatterMin: return v < old ? v : old;
    default: return v;
  }
}

template <typename Index, typename T>
kernel void gather_nd(device const T* x [[buffer(0)]],
                      device const Index* indices [[buffer(1)]],
                      device T* y [[buffer(2)]],
                      constant IndexTupleParams& p [[buffer(3)]],
                      uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  bool ok = true;
  y[gid] = x[tuple_offset(indices, gid / p.slice, p, ok) + gid % p.slice];
}

// y already holds the data; one thread per update element.
template <typename Index, typename T>
kernel void scatter_nd_set(device const T* updates [[buffer(0)]],
                           device const Index* indices [[buffer(1)]],
                           device T* y [[buffer(2)]],
                           constant IndexTupleParams& p [[buffer(3)]],
                           uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  bool ok = true;
  const uint offset = tuple_offset(indices, gid / p.slice, p, ok);
  if (ok) y[offset + gid % p.slice] = updates[gid];
}

// y already holds the data; one thread per slice element, combining every tuple's update in order.
template <uint R, typename Index, typename T>
kernel void scatter_nd_reduce(device const T* updates [[buffer(0)]],
                              device const Index* indices [[buffer(1)]],
                              device T* y [[buffer(2)]],
                              constant IndexTupleParams& p [[buffer(3)]],
                              uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  for (uint t = 0; t < p.tuples; ++t) {
    bool ok = true;
    const uint offset = tuple_offset(indices, t, p, ok) + gid;
    if (ok) y[offset] = scatter_combine<R>(y[offset], updates[t * p.slice + gid]);
  }
}

// y already holds the data; thread gid walks the line of updates along `axis` at the other coordinates.
template <uint R, typename Index, typename T>
kernel void scatter_elements(device const T* updates [[buffer(0)]],
                             device const Index* indices [[buffer(1)]],
                             device T* y [[buffer(2)]],
                             constant ScatterElementsParams& p [[buffer(3)]],
                             uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  uint line = 0, base = 0;
  uint i = gid;
  for (int d = int(p.rank) - 1; d >= 0; --d) {
    if (uint(d) == p.axis) continue;
    const uint coord = i % p.shape[d];
    i /= p.shape[d];
    line += coord * p.strides[d];
    base += coord * p.data_strides[d];
  }
  for (uint j = 0; j < p.shape[p.axis]; ++j) {
    const uint at = line + j * p.strides[p.axis];
    bool ok = true;
    const uint offset = base + tuple_index(long(indices[at]), p.data_axis_len, ok) * p.data_strides[p.axis];
    if (ok) y[offset] = scatter_combine<R>(y[offset], updates[at]);
  }
}

// Moves by element width: GatherND and ScatterND without a reduction.
#define instantiate_nd_move(width, T, index, Index)                                  \
  instantiate_kernel(gather_nd, index, width, gather_nd<Index, T>)                   \
  instantiate_kernel(scatter_nd, none_##index, width, scatter_nd_set<Index, T>)      \
  instantiate_kernel(scatter_elements, none_##index, width, scatter_elements<kScatterNone, Index, T>)
#define instantiate_nd_widths(index, Index)                                                           \
  instantiate_nd_move(u8, uchar, index, Index) instantiate_nd_move(u16, ushort, index, Index)         \
  instantiate_nd_move(u32, uint, index, Index) instantiate_nd_move(u64, ulong, index, Index)
instantiate_nd_widths(i32, int)
instantiate_nd_widths(i64, long)

// Reductions by arithmetic dtype.
#define instantiate_reduce(dtype, T, red, R, index, Index)                                             \
  instantiate_kernel(scatter_nd, red##_##index, dtype, scatter_nd_reduce<R, Index, T>)                \
  instantiate_kernel(scatter_elements, red##_##index, dtype, scatter_elements<R, Index, T>)
#define instantiate_reduce_dtypes(red, R, index, Index)                                                \
  instantiate_reduce(f32, float, red, R, index, Index) instantiate_reduce(f16, half, red, R, index, Index) \
  instantiate_reduce(i32, int, red, R, index, Index) instantiate_reduce(i64, long, red, R, index, Index)
#define instantiate_reductions(index, Index)                                                           \
  instantiate_reduce_dtypes(add, kScatterAdd, index, Index) instantiate_reduce_dtypes(mul, kScatterMul, index, Index) \
  instantiate_reduce_dtypes(max, kScatterMax, index, Index) instantiate_reduce_dtypes(min, kScatterMin, index, Index)
instantiate_reductions(i32, int)
instantiate_reductions(i64, long)
