// A 16x16 float tile transposed in AVX-512 registers, for kernels compiled with the avx512f target
// attribute and called after has_avx512(): 32 in-lane unpacks, then 32 shuffles of 128-bit quarters.
#pragma once
#include "cpu/simd_avx2.h"

#ifdef METALNN_HAS_AVX2_KERNELS
namespace metalnn::cpu {

// On return v[c] holds column c of the tile v[0..15] held as rows.
__attribute__((target("avx512f,avx512vl,avx2,fma"), always_inline)) inline void transpose16x16_avx512(__m512 v[16]) {
  // Rows i and i+1 interleaved, then pairs of pairs: v[4g + k] then holds, for rows 4g..4g+3, column
  // k of each 128-bit quarter q (columns 4q + k).
  __m512 t[16];
  for (int r = 0; r < 16; r += 2) {
    t[r] = _mm512_unpacklo_ps(v[r], v[r + 1]);
    t[r + 1] = _mm512_unpackhi_ps(v[r], v[r + 1]);
  }
  for (int r = 0; r < 16; r += 4) {
    v[r] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[r]), _mm512_castps_pd(t[r + 2])));
    v[r + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[r]), _mm512_castps_pd(t[r + 2])));
    v[r + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[r + 1]), _mm512_castps_pd(t[r + 3])));
    v[r + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[r + 1]), _mm512_castps_pd(t[r + 3])));
  }
  for (int k = 0; k < 4; ++k) {
    const __m512 a = _mm512_shuffle_f32x4(v[k], v[4 + k], 0x88), b = _mm512_shuffle_f32x4(v[k], v[4 + k], 0xdd);
    const __m512 c = _mm512_shuffle_f32x4(v[8 + k], v[12 + k], 0x88), d = _mm512_shuffle_f32x4(v[8 + k], v[12 + k], 0xdd);
    t[k] = _mm512_shuffle_f32x4(a, c, 0x88);
    t[8 + k] = _mm512_shuffle_f32x4(a, c, 0xdd);
    t[4 + k] = _mm512_shuffle_f32x4(b, d, 0x88);
    t[12 + k] = _mm512_shuffle_f32x4(b, d, 0xdd);
  }
  for (int c = 0; c < 16; ++c) v[c] = t[c];
}

}  // namespace metalnn::cpu
#endif
