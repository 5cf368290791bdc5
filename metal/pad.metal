// Pad (constant, reflect, edge; negative pads crop): output element -> source coordinate per dim.
// Elements move by width, so one kernel serves every dtype of that size. One thread per output
// element; no threadgroup memory.
#include "common.h"

template <typename T>
kernel void pad(device const T* x [[buffer(0)]],
                device const T* value [[buffer(1)]],
                device T* y [[buffer(2)]],
                constant PadParams& p [[buffer(3)]],
                uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  uint i = gid;
  uint offset = 0;
  bool inside = true;
  for (int d = int(p.rank) - 1; d >= 0; --d) {
    const int extent = int(p.in_shape[d]);
    int c = int(i % p.out_shape[d]) - p.pad_begin[d];
    i /= p.out_shape[d];
    if (c < 0 || c >= extent) {
      if (p.mode == kPadConstant) {
        inside = false;
      } else if (p.mode == kPadEdge) {
        c = clamp(c, 0, extent - 1);
      } else {  // reflect without repeating the edge; period 2 * (extent - 1)
        const int period = max(2 * (extent - 1), 1);
        c = abs(c) % period;
        if (c >= extent) c = period - c;
      }
    }
    offset += uint(c) * p.in_strides[d];
  }
  y[gid] = inside ? x[offset] : value[0];
}

#define instantiate_pad(dtype, T, _) instantiate_kernel(pad, nd, dtype, pad<T>)
MNN_WIDTH_TYPES(instantiate_pad, )
