// GatherBlockQuantized: out = gathered slices of a block-quantized table, dequantised as
// (code - zero_point) * scale (see GatherBlockQuantizedParams). One thread per output element; no
// threadgroup memory. Out-of-range indices give zeros.
#include "common.h"

// 4-bit code i of a stream of bytes, low nibble first; int4 codes sign-extended.
inline int gbq_nibble(device const uchar* codes, uint i, uint is_signed) {
  const uint byte = codes[i / 2];
  const int v = int((i & 1) != 0 ? byte >> 4 : byte & 15);
  return is_signed != 0 && v >= 8 ? v - 16 : v;
}

template <typename Index, typename T>
kernel void gather_block_quantized(device const uchar* data [[buffer(0)]],
                                   device const Index* indices [[buffer(1)]],
                                   device const T* scales [[buffer(2)]],
                                   device const uchar* zero_points [[buffer(3)]],
                                   device T* out [[buffer(4)]],
                                   constant GatherBlockQuantizedParams& p [[buffer(5)]],
                                   uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  const uint e = gid % p.gather_block, pair = gid / p.gather_block;
  const uint j = pair % p.index_count, o = pair / p.index_count;
  long index = long(indices[j]);
  if (index < -long(p.axis_len) || index >= long(p.axis_len)) {
    out[gid] = T(0);
    return;
  }
  if (index < 0) index += long(p.axis_len);
  const uint d = (o * p.axis_len + uint(index)) * p.gather_block + e;
  const uint span = p.quantize_len * p.quantize_inner;
  const uint s = d / span * p.scale_outer_stride + d % span / p.quantize_inner / p.block_size * p.quantize_inner +
                 d % p.quantize_inner;
  const int code = p.bits == 8 ? int(data[d]) : gbq_nibble(data, d, p.is_signed);
  int zero_point = p.default_zero_point;
  if (p.has_zero_points != 0)
    zero_point = p.bits == 8 ? int(zero_points[s])
                             : gbq_nibble(zero_points + s / p.zp_row * p.zp_row_bytes, s % p.zp_row, p.is_signed);
  out[gid] = T(float(code - zero_point) * float(scales[s]));
}

#define instantiate_gather_block_quantized(index, Index, dtype, T) \
  instantiate_kernel(gather_block_quantized, index, dtype, gather_block_quantized<Index, T>)
instantiate_gather_block_quantized(i32, int, f32, float)
instantiate_gather_block_quantized(i32, int, f16, half)
instantiate_gather_block_quantized(i64, long, f32, float)
instantiate_gather_block_quantized(i64, long, f16, half)
