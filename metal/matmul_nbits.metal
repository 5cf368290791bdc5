// MatMulNBits: out[m][n] = sum_k A[m][k] (code(n, k) - zp) * scale (+ bias[n]), B kept as 4-bit codes
// [N, k_blocks, block_size / 2], low nibble first, dequantised in the inner loop.
// matmul_nbits_gemv (few rows): one SIMD-group per output; each lane decodes a 32-bit word (8 codes)
// at a time, strided over K, then simd_sum; no threadgroup memory. matmul_nbits_tiled: a 16x16 threadgroup
// computes a 32x32 tile of out, 2x2 per thread, staging 32x16 of A and 16x32 of decoded B per K step
// (3 KiB of threadgroup memory in float, 1.5 KiB in half).
#include "common.h"

constant constexpr uint kNBitsTileMN = 32;
constant constexpr uint kNBitsTileK = 16;
constant constexpr uint kNBitsThreadsMN = 16;

template <typename T>
inline float nbits_zero_point(device const uchar* zp_packed, device const T* zp_float, uint n, uint kb,
                              constant MatMulNBitsParams& p) {
  if (p.zp_mode == 1) {
    const uint byte = zp_packed[n * p.zp_row_bytes + kb / 2];
    return float((kb & 1) != 0 ? byte >> 4 : byte & 15);
  }
  if (p.zp_mode == 2) return float(zp_float[n * p.k_blocks + kb]);
  return 8.0f;
}

template <typename T>
kernel void matmul_nbits_gemv(device const T* a [[buffer(0)]],
                              device const uint* b [[buffer(1)]],
                              device const T* scales [[buffer(2)]],
                              device const uchar* zp_packed [[buffer(3)]],
                              device const T* zp_float [[buffer(4)]],
                              device const T* bias [[buffer(5)]],
                              device T* out [[buffer(6)]],
                              constant MatMulNBitsParams& p [[buffer(7)]],
                              uint group [[threadgroup_position_in_grid]],
                              uint simd_group [[simdgroup_index_in_threadgroup]],
                              uint simd_groups [[simdgroups_per_threadgroup]],
                              uint lane [[thread_index_in_simdgroup]],
                              uint lanes [[threads_per_simdgroup]]) {
  const uint index = group * simd_groups + simd_group;
  if (index >= p.m * p.n) return;  // uniform across the SIMD-group
  const uint n = index % p.n, m = index / p.n;
  device const T* row = a + m * p.k;
  device const uint* column = b + n * p.k_blocks * (p.block_size / 8);  // rows are whole words
  float acc = 0.0f;
  // Lane by lane one 32-bit word (8 codes, code j in bits 4j..4j+3) at a time, so a SIMD-group reads
  // 128 contiguous bytes; block sizes are multiples of 16, so a word never straddles two blocks.
  for (uint k0 = lane * 8; k0 < p.k; k0 += lanes * 8) {
    const uint kb = k0 / p.block_size;
    const float zp = nbits_zero_point(zp_packed, zp_float, n, kb, p);
    const uint word = column[k0 / 8];
    float dot = 0.0f;
    for (uint j = 0; j < 8; ++j) {
      if (k0 + j < p.k) dot = fma(float((word >> (4 * j)) & 15) - zp, float(row[k0 + j]), dot);
    }
    acc = fma(float(scales[n * p.k_blocks + kb]), dot, acc);
  }
  acc = simd_sum(acc);
  if (lane == 0) out[m * p.n + n] = T(acc + (p.has_bias != 0 ? float(bias[n]) : 0.0f));
}

template <typename T>
kernel void matmul_nbits_tiled(device const T* a [[buffer(0)]],
                               device const uchar* b [[buffer(1)]],
                               device const T* scales [[buffer(2)]],
                               device const uchar* zp_packed [[buffer(3)]],
                               device const T* zp_float [[buffer(4)]],
                               device const T* bias [[buffer(5)]],
                               device T* out [[buffer(6)]],
                               constant MatMulNBitsParams& p [[buffer(7)]],
                               uint3 group [[threadgroup_position_in_grid]],
                               uint3 lid [[thread_position_in_threadgroup]],
                               uint tid [[thread_index_in_threadgroup]]) {
  threadgroup T tile_a[kNBitsTileMN][kNBitsTileK];
  threadgroup T tile_b[kNBitsTileK][kNBitsTileMN];
  const uint m0 = group.y * kNBitsTileMN;
  const uint n0 = group.x * kNBitsTileMN;
  const uint row_bytes = p.k_blocks * (p.block_size / 2);
  float acc[2][2] = {{0.0f, 0.0f}, {0.0f, 0.0f}};
  for (uint k0 = 0; k0 < p.k; k0 += kNBitsTileK) {
    for (uint i = tid; i < kNBitsTileMN * kNBitsTileK; i += kNBitsThreadsMN * kNBitsThreadsMN) {
      const uint row = i / kNBitsTileK, col = i % kNBitsTileK;
      const uint m = m0 + row, k = k0 + col;
      tile_a[row][col] = (m < p.m && k < p.k) ? a[m * p.k + k] : T(0);
      const uint krow = i / kNBitsTileMN, ncol = i % kNBitsTileMN;
      const uint kq = k0 + krow, n = n0 + ncol;
      T w = T(0);
      if (kq < p.k && n < p.n) {
        const uint byte = b[n * row_bytes + kq / 2], block = kq / p.block_size;
        const float code = float((kq & 1) != 0 ? byte >> 4 : byte & 15);
        w = T((code - nbits_zero_point(zp_packed, zp_float, n, block, p)) * float(scales[n * p.k_blocks + block]));
      }
      tile_b[krow][ncol] = w;
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint kk = 0; kk < kNBitsTileK; ++kk) {
      const float a0 = float(tile_a[lid.y][kk]), a1 = float(tile_a[lid.y + kNBitsThreadsMN][kk]);
      const float b0 = float(tile_b[kk][lid.x]), b1 = float(tile_b[kk][lid.x + kNBitsThreadsMN]);
      acc[0][0] = fma(a0, b0, acc[0][0]);
      acc[0][1] = fma(a0, b1, acc[0][1]);
      acc[1][0] = fma(a1, b0, acc[1][0]);
      acc[1][1] = fma(a1, b1, acc[1][1]);
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  for (uint i = 0; i < 2; ++i) {
    for (uint j = 0; j < 2; ++j) {
      const uint m = m0 + lid.y + i * kNBitsThreadsMN, n = n0 + lid.x + j * kNBitsThreadsMN;
      if (m < p.m && n < p.n) out[m * p.n + n] = T(acc[i][j] + (p.has_bias != 0 ? float(bias[n]) : 0.0f));
    }
  }
}

#define instantiate_matmul_nbits(dtype, T)                                    \
  instantiate_kernel(matmul_nbits, gemv, dtype, matmul_nbits_gemv<T>)         \
  instantiate_kernel(matmul_nbits, tiled, dtype, matmul_nbits_tiled<T>)
instantiate_matmul_nbits(f32, float)
instantiate_matmul_nbits(f16, half)
