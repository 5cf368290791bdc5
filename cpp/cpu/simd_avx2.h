// Small AVX2 building blocks shared by the CPU kernels that vectorise by hand; only for functions
// compiled with the avx2/fma target attribute and called after has_avx2_fma().
#pragma once
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <cstdint>

#define METALNN_HAS_AVX2_KERNELS 1
#define METALNN_AVX2 __attribute__((target("avx2,fma")))
#define METALNN_AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) inline

namespace metalnn::cpu {

// 8 floats p[0], p[S], ..., p[7S] for S = 1 or 2 (S = 2 reads p[0..15]).
template <int S>
METALNN_AVX2_INLINE __m256 load_strided(const float* p) {
  if (S == 1) return _mm256_loadu_ps(p);
  __m256 even = _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), _MM_SHUFFLE(3, 1, 2, 0)));
}

// Lanes [0, n) set, for masked loads and stores of a vector's first n < 8 floats.
METALNN_AVX2_INLINE __m256i first_lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

}  // namespace metalnn::cpu
#endif
