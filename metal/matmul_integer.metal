// MatMulInteger: y[m][n] = sum_k (a[m][k] - a_zero) * (b[k][n] - b_zero[n]) in int32, A [M, K] and
// B [K, N] row-major. One thread per output element; no threadgroup memory.
#include "common.h"

template <typename A, typename B>
kernel void matmul_integer(device const A* a [[buffer(0)]],
                           device const B* b [[buffer(1)]],
                           device const A* a_zero_point [[buffer(2)]],
                           device const B* b_zero_point [[buffer(3)]],
                           device int* y [[buffer(4)]],
                           constant MatMulIntegerParams& p [[buffer(5)]],
                           uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  const uint m = gid / p.n, n = gid % p.n;
  const int za = int(a_zero_point[0]), zb = int(b_zero_point[n * p.zb_stride]);
  int acc = 0;
  for (uint k = 0; k < p.k; ++k) acc += (int(a[m * p.k + k]) - za) * (int(b[k * p.n + n]) - zb);
  y[gid] = acc;
}

#define instantiate_matmul_integer(a, A, b, B) instantiate_kernel(matmul_integer, a, b, matmul_integer<A, B>)
instantiate_matmul_integer(i8, char, i8, char)
instantiate_matmul_integer(i8, char, u8, uchar)
instantiate_matmul_integer(u8, uchar, i8, char)
instantiate_matmul_integer(u8, uchar, u8, uchar)
