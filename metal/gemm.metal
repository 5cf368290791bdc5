// Batched GEMM for MatMul, Gemm and 1x1 convolutions: out = act(alpha * A B + beta * bias), operands
// addressed through strides (transposes, broadcast batches). matmul_tiled: a 16x16 threadgroup
// computes a 32x32 tile of out, 2x2 per thread, staging 32x16 of A and 16x32 of B in threadgroup
// memory (3 KiB in float, 1.5 KiB in half) per K step. matmul_gemv (few rows): one SIMD-group per
// output element, lanes striding over K, then simd_sum. matmul_simdgroup (large shapes): a threadgroup
// of 4 SIMD-groups (128 threads) computes a 32x32 tile of out with simdgroup 8x8 matrices; see below.
#include "common.h"

constant constexpr uint kTileMN = 32;
constant constexpr uint kTileK = 16;
constant constexpr uint kThreadsMN = 16;

// Element offsets of batch `b` in A and B.
inline uint2 batch_offsets(uint b, constant MatmulParams& p) {
  uint2 offsets = uint2(0, 0);
  for (int d = int(p.batch_rank) - 1; d >= 0; --d) {
    const uint coord = b % p.batch_shape[d];
    b /= p.batch_shape[d];
    offsets += coord * uint2(p.a_batch_strides[d], p.b_batch_strides[d]);
  }
  return offsets;
}

template <typename T>
inline void matmul_store(device T* out, device const T* bias, float acc, uint b, uint m, uint n,
                         constant MatmulParams& p) {
  acc *= p.alpha;
  if (p.epilogue.has_bias) acc += p.beta * float(bias[m * p.bias_m + n * p.bias_n]);
  out[(b * p.m + m) * p.n + n] = T(activate(acc, p.epilogue));
}

template <typename T>
kernel void matmul_tiled(device const T* a [[buffer(0)]],
                         device const T* b [[buffer(1)]],
                         device const T* bias [[buffer(2)]],
                         device T* out [[buffer(3)]],
                         constant MatmulParams& p [[buffer(4)]],
                         uint3 group [[threadgroup_position_in_grid]],
                         uint3 lid [[thread_position_in_threadgroup]],
                         uint tid [[thread_index_in_threadgroup]]) {
  threadgroup T tile_a[kTileMN][kTileK];
  threadgroup T tile_b[kTileK][kTileMN];
  const uint2 base = batch_offsets(group.z, p);
  const uint m0 = group.y * kTileMN;
  const uint n0 = group.x * kTileMN;
  float acc[2][2] = {{0.0f, 0.0f}, {0.0f, 0.0f}};
  for (uint k0 = 0; k0 < p.k; k0 += kTileK) {
    for (uint i = tid; i < kTileMN * kTileK; i += kThreadsMN * kThreadsMN) {
      const uint row = i / kTileK, col = i % kTileK;
      const uint m = m0 + row, k = k0 + col;
      tile_a[row][col] = (m < p.m && k < p.k) ? a[base.x + m * p.a_m + k * p.a_k] : T(0);
      const uint krow = i / kTileMN, ncol = i % kTileMN;
      const uint kb = k0 + krow, n = n0 + ncol;
      tile_b[krow][ncol] = (kb < p.k && n < p.n) ? b[base.y + kb * p.b_k + n * p.b_n] : T(0);
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint kk = 0; kk < kTileK; ++kk) {
      const float a0 = float(tile_a[lid.y][kk]), a1 = float(tile_a[lid.y + kThreadsMN][kk]);
      const float b0 = float(tile_b[kk][lid.x]), b1 = float(tile_b[kk][lid.x + kThreadsMN]);
      acc[0][0] = fma(a0, b0, acc[0][0]);
      acc[0][1] = fma(a0, b1, acc[0][1]);
      acc[1][0] = fma(a1, b0, acc[1][0]);
      acc[1][1] = fma(a1, b1, acc[1][1]);
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  for (uint i = 0; i < 2; ++i) {
    for (uint j = 0; j < 2; ++j) {
      const uint m = m0 + lid.y + i * kThreadsMN, n = n0 + lid.x + j * kThreadsMN;
      if (m < p.m && n < p.n) matmul_store(out, bias, acc[i][j], group.z, m, n, p);
    }
  }
}

template <typename T>
kernel void matmul_gemv(device const T* a [[buffer(0)]],
                        device const T* b [[buffer(1)]],
                        device const T* bias [[buffer(2)]],
                        device T* out [[buffer(3)]],
                        constant MatmulParams& p [[buffer(4)]],
                        uint group [[threadgroup_position_in_grid]],
                        uint simd_group [[simdgroup_index_in_threadgroup]],
                        uint simd_groups [[simdgroups_per_threadgroup]],
                        uint lane [[thread_index_in_simdgroup]],
                        uint lanes [[threads_per_simdgroup]]) {
  const uint index = group * simd_groups + simd_group;
  if (index >= p.batch_count * p.m * p.n) return;  // uniform across the SIMD-group
  const uint n = index % p.n, m = (index / p.n) % p.m, batch = index / (p.n * p.m);
  const uint2 base = batch_offsets(batch, p);
  device const T* row = a + base.x + m * p.a_m;
  device const T* column = b + base.y + n * p.b_n;
  float acc = 0.0f;
  for (uint k = lane; k < p.k; k += lanes) acc = fma(float(row[k * p.a_k]), float(column[k * p.b_k]), acc);
  acc = simd_sum(acc);
  if (lane == 0) matmul_store(out, bias, acc, batch, m, n, p);
}

// matmul_simdgroup: out tile [m0, m0+32) x [n0, n0+32) of batch group.z, with 8x8 simdgroup matrices.
// Thread mapping: 128 threads = 4 SIMD-groups; all threads stage tiles cooperatively, then SIMD-group
// s owns the 16x16 quadrant at rows (s / 2) * 16, columns (s % 2) * 16, as 2x2 simdgroup_float8x8
// accumulators. Operands are loaded as simdgroup_matrix<T, 8, 8> (half for float16) and accumulated
// in float. Threadgroup memory: 32x16 of A and 16x32 of B per K step (zero-padded past the edges;
// 4 KiB in float, 2 KiB in half) and the 32x32 float result (4 KiB), from which every thread applies
// the bias + activation epilogue to in-bounds elements (so any shape is handled correctly).
template <typename T>
kernel void matmul_simdgroup(device const T* a [[buffer(0)]],
                             device const T* b [[buffer(1)]],
                             device const T* bias [[buffer(2)]],
                             device T* out [[buffer(3)]],
                             constant MatmulParams& p [[buffer(4)]],
                             uint3 group [[threadgroup_position_in_grid]],
                             uint tid [[thread_index_in_threadgroup]],
                             uint simd_group [[simdgroup_index_in_threadgroup]]) {
  constexpr uint kThreads = 128;
  threadgroup T tile_a[kTileMN][kTileK];
  threadgroup T tile_b[kTileK][kTileMN];
  threadgroup float tile_out[kTileMN][kTileMN];
  const uint2 base = batch_offsets(group.z, p);
  const uint m0 = group.y * kTileMN;
  const uint n0 = group.x * kTileMN;
  const uint sm = (simd_group / 2) * 16, sn = (simd_group % 2) * 16;
  simdgroup_float8x8 acc[2][2];
  for (uint i = 0; i < 2; ++i)
    for (uint j = 0; j < 2; ++j) acc[i][j] = make_filled_simdgroup_matrix<float, 8, 8>(0.0f);
  for (uint k0 = 0; k0 < p.k; k0 += kTileK) {
    for (uint i = tid; i < kTileMN * kTileK; i += kThreads) {
      const uint row = i / kTileK, col = i % kTileK;
      const uint m = m0 + row, k = k0 + col;
      tile_a[row][col] = (m < p.m && k < p.k) ? a[base.x + m * p.a_m + k * p.a_k] : T(0);
      const uint krow = i / kTileMN, ncol = i % kTileMN;
      const uint kb = k0 + krow, n = n0 + ncol;
      tile_b[krow][ncol] = (kb < p.k && n < p.n) ? b[base.y + kb * p.b_k + n * p.b_n] : T(0);
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint kk = 0; kk < kTileK; kk += 8) {
      simdgroup_matrix<T, 8, 8> a_frag[2];
      simdgroup_matrix<T, 8, 8> b_frag[2];
      for (uint i = 0; i < 2; ++i) simdgroup_load(a_frag[i], &tile_a[0][0], kTileK, ulong2(kk, sm + 8 * i));
      for (uint j = 0; j < 2; ++j) simdgroup_load(b_frag[j], &tile_b[0][0], kTileMN, ulong2(sn + 8 * j, kk));
      for (uint i = 0; i < 2; ++i)
        for (uint j = 0; j < 2; ++j)
          simdgroup_multiply_accumulate(acc[i][j], a_frag[i], b_frag[j], acc[i][j]);
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  for (uint i = 0; i < 2; ++i)
    for (uint j = 0; j < 2; ++j)
      simdgroup_store(acc[i][j], &tile_out[0][0], kTileMN, ulong2(sn + 8 * j, sm + 8 * i));
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (uint i = tid; i < kTileMN * kTileMN; i += kThreads) {
    const uint row = i / kTileMN, col = i % kTileMN;
    const uint m = m0 + row, n = n0 + col;
    if (m < p.m && n < p.n) matmul_store(out, bias, tile_out[row][col], group.z, m, n, p);
  }
}

#define instantiate_matmul(dtype, T, _)                                                         \
  instantiate_kernel(matmul, tiled, dtype, matmul_tiled<T>)                                     \
  instantiate_kernel(matmul, gemv, dtype, matmul_gemv<T>)                                       \
  instantiate_kernel(matmul, simdgroup, dtype, matmul_simdgroup<T>)
MNN_FLOAT_TYPES(instantiate_matmul, )
