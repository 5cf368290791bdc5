// Trilu: keeps element (i, j) of each matrix of the last two dims when j - i >= k (upper) or
// j - i <= k (lower), else writes zero; by element width (u8/u16/u32/u64: bool and int8, half,
// float and int32, int64). One thread per element; no threadgroup memory.
#include "common.h"

template <typename T>
kernel void trilu(device const T* x [[buffer(0)]],
                  device T* y [[buffer(1)]],
                  constant TriluParams& p [[buffer(2)]],
                  uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  const int j = int(gid % p.cols);
  const int i = int((gid / p.cols) % p.rows);
  const bool keep = p.upper ? j - i >= p.k : j - i <= p.k;
  y[gid] = keep ? x[gid] : T(0);
}

#define MNN_TRILU_WIDTHS(X) X(u8, uchar) X(u16, ushort) X(u32, uint) X(u64, ulong)
#define instantiate_trilu(width, T) instantiate_kernel(trilu, mask, width, trilu<T>)
MNN_TRILU_WIDTHS(instantiate_trilu)
