// Strided copy: transpose, slice, expand, concat, split and reshape-like copies, by element width
// (u8/u16/u32/u64: bool, half, float/int32, int64). One thread per copied element; no threadgroup memory.
#include "common.h"

template <typename T>
kernel void copy_strided(device const T* in [[buffer(0)]],
                         device T* out [[buffer(1)]],
                         constant CopyParams& p [[buffer(2)]],
                         uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  int in_index = p.in_offset;
  uint out_index = p.out_offset;
  uint i = gid;
  for (int d = int(p.rank) - 1; d >= 0; --d) {
    const uint coord = i % p.shape[d];
    i /= p.shape[d];
    in_index += int(coord) * p.in_strides[d];
    out_index += coord * p.out_strides[d];
  }
  out[out_index] = in[in_index];
}

#define instantiate_copy(width, T, _) instantiate_kernel(copy, strided, width, copy_strided<T>)
MNN_WIDTH_TYPES(instantiate_copy, )
