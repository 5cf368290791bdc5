// Matrix-vector kernels. With w as [n, k] (a Linear layer's layout) each output is a dot product:
// four weight rows stream side by side against the rows of a, which stay in L1/L2. With w as [k, n]
// each thread keeps a block of its output row(s) in L1 as accumulators and adds four weight rows
// into it per pass, reading every weight row contiguously. One core draws about 28 GB/s from L3
// whether or not the rows are prefetched in software (measured), so none is: the threads set the pace.
#include "cpu/gemv.h"

#include <algorithm>
#include <stdexcept>

#include "cpu/cpu_features.h"
#include "cpu/simd_avx2.h"

namespace metalnn::cpu {

namespace {

// Fewer multiply-adds than this run on one thread: waking the second costs more.
constexpr int64_t kMinParallelMacs = int64_t{1} << 18;
// Columns per accumulator block of the [k, n] kernel: 8 KB of one output row, a few pages of weights.
constexpr int64_t kColumnBlock = 2048;

#ifdef METALNN_HAS_AVX2_KERNELS
#define METALNN_GEMV_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma")))
#define METALNN_GEMV_AVX512_INLINE __attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma"), always_inline)) inline

// c[i, j] for j in [j0, j1), w as [n, k]: R weight rows at a time against M rows of a.
template <int M, int R>
METALNN_GEMV_AVX512 void dot_rows_avx512(int64_t j0, int64_t j1, int64_t k, float alpha, const float* a, int64_t lda,
                                         const float* w, int64_t ldw, float* c, int64_t ldc) {
  const __mmask16 tail = static_cast<__mmask16>((1u << (k % 16)) - 1);
  const int64_t kv = k - k % 16;
  for (int64_t j = j0; j < j1; j += R) {
    __m512 acc[M][R];
    for (int i = 0; i < M; ++i)
      for (int r = 0; r < R; ++r) acc[i][r] = _mm512_setzero_ps();
    const float* wr[R];
    for (int r = 0; r < R; ++r) wr[r] = w + (j + r) * ldw;
    for (int64_t t = 0; t < kv; t += 16) {
      __m512 x[M];
      for (int i = 0; i < M; ++i) x[i] = _mm512_loadu_ps(a + i * lda + t);
      for (int r = 0; r < R; ++r) {
        const __m512 wv = _mm512_loadu_ps(wr[r] + t);
        for (int i = 0; i < M; ++i) acc[i][r] = _mm512_fmadd_ps(x[i], wv, acc[i][r]);
      }
    }
    if (tail) {
      __m512 x[M];
      for (int i = 0; i < M; ++i) x[i] = _mm512_maskz_loadu_ps(tail, a + i * lda + kv);
      for (int r = 0; r < R; ++r) {
        const __m512 wv = _mm512_maskz_loadu_ps(tail, wr[r] + kv);
        for (int i = 0; i < M; ++i) acc[i][r] = _mm512_fmadd_ps(x[i], wv, acc[i][r]);
      }
    }
    for (int i = 0; i < M; ++i)
      for (int r = 0; r < R; ++r) c[i * ldc + j + r] = alpha * _mm512_reduce_add_ps(acc[i][r]);
  }
}

// c[i, c0 .. c1) += sum over weight rows [t0, t0 + U) of a[i, t] * w[t, c0 .. c1), w as [k, n].
template <int M, int U>
METALNN_GEMV_AVX512_INLINE void add_rows_avx512(int64_t c0, int64_t c1, int64_t t0, const float* a, int64_t lda,
                                                const float* w, int64_t ldw, float* c, int64_t ldc) {
  __m512 s[M][U];
  for (int i = 0; i < M; ++i)
    for (int u = 0; u < U; ++u) s[i][u] = _mm512_set1_ps(a[i * lda + t0 + u]);
  const float* wr[U];
  for (int u = 0; u < U; ++u) wr[u] = w + (t0 + u) * ldw;
  int64_t j = c0;
  for (; j + 16 <= c1; j += 16) {
    __m512 wv[U];
    for (int u = 0; u < U; ++u) wv[u] = _mm512_loadu_ps(wr[u] + j);
    for (int i = 0; i < M; ++i) {
      __m512 y = _mm512_loadu_ps(c + i * ldc + j);
      for (int u = 0; u < U; ++u) y = _mm512_fmadd_ps(s[i][u], wv[u], y);
      _mm512_storeu_ps(c + i * ldc + j, y);
    }
  }
  if (j < c1) {
    const __mmask16 m = static_cast<__mmask16>((1u << (c1 - j)) - 1);
    __m512 wv[U];
    for (int u = 0; u < U; ++u) wv[u] = _mm512_maskz_loadu_ps(m, wr[u] + j);
    for (int i = 0; i < M; ++i) {
      __m512 y = _mm512_maskz_loadu_ps(m, c + i * ldc + j);
      for (int u = 0; u < U; ++u) y = _mm512_fmadd_ps(s[i][u], wv[u], y);
      _mm512_mask_storeu_ps(c + i * ldc + j, m, y);
    }
  }
}

template <int M>
METALNN_GEMV_AVX512 void axpy_rows_avx512(int64_t c0, int64_t c1, int64_t k, const float* a, int64_t lda,
                                          const float* w, int64_t ldw, float* c, int64_t ldc) {
  int64_t t = 0;
  for (; t + 4 <= k; t += 4) add_rows_avx512<M, 4>(c0, c1, t, a, lda, w, ldw, c, ldc);
  for (; t < k; ++t) add_rows_avx512<M, 1>(c0, c1, t, a, lda, w, ldw, c, ldc);
}

template <int M, int R>
METALNN_AVX2 void dot_rows_avx2(int64_t j0, int64_t j1, int64_t k, float alpha, const float* a, int64_t lda,
                                const float* w, int64_t ldw, float* c, int64_t ldc) {
  const __m256i tail = first_lanes(k % 8);
  const int64_t kv = k - k % 8;
  for (int64_t j = j0; j < j1; j += R) {
    __m256 acc[M][R];
    for (int i = 0; i < M; ++i)
      for (int r = 0; r < R; ++r) acc[i][r] = _mm256_setzero_ps();
    const float* wr[R];
    for (int r = 0; r < R; ++r) wr[r] = w + (j + r) * ldw;
    for (int64_t t = 0; t < kv; t += 8) {
      __m256 x[M];
      for (int i = 0; i < M; ++i) x[i] = _mm256_loadu_ps(a + i * lda + t);
      for (int r = 0; r < R; ++r) {
        const __m256 wv = _mm256_loadu_ps(wr[r] + t);
        for (int i = 0; i < M; ++i) acc[i][r] = _mm256_fmadd_ps(x[i], wv, acc[i][r]);
      }
    }
    if (k % 8) {
      __m256 x[M];
      for (int i = 0; i < M; ++i) x[i] = _mm256_maskload_ps(a + i * lda + kv, tail);
      for (int r = 0; r < R; ++r) {
        const __m256 wv = _mm256_maskload_ps(wr[r] + kv, tail);
        for (int i = 0; i < M; ++i) acc[i][r] = _mm256_fmadd_ps(x[i], wv, acc[i][r]);
      }
    }
    for (int i = 0; i < M; ++i)
      for (int r = 0; r < R; ++r) {
        const __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc[i][r]), _mm256_extractf128_ps(acc[i][r], 1));
        const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
        c[i * ldc + j + r] = alpha * _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
      }
  }
}

template <int M, int U>
METALNN_AVX2_INLINE void add_rows_avx2(int64_t c0, int64_t c1, int64_t t0, const float* a, int64_t lda, const float* w,
                                       int64_t ldw, float* c, int64_t ldc) {
  __m256 s[M][U];
  for (int i = 0; i < M; ++i)
    for (int u = 0; u < U; ++u) s[i][u] = _mm256_set1_ps(a[i * lda + t0 + u]);
  const float* wr[U];
  for (int u = 0; u < U; ++u) wr[u] = w + (t0 + u) * ldw;
  int64_t j = c0;
  for (; j + 8 <= c1; j += 8) {
    __m256 wv[U];
    for (int u = 0; u < U; ++u) wv[u] = _mm256_loadu_ps(wr[u] + j);
    for (int i = 0; i < M; ++i) {
      __m256 y = _mm256_loadu_ps(c + i * ldc + j);
      for (int u = 0; u < U; ++u) y = _mm256_fmadd_ps(s[i][u], wv[u], y);
      _mm256_storeu_ps(c + i * ldc + j, y);
    }
  }
  if (j < c1) {
    const __m256i m = first_lanes(c1 - j);
    __m256 wv[U];
    for (int u = 0; u < U; ++u) wv[u] = _mm256_maskload_ps(wr[u] + j, m);
    for (int i = 0; i < M; ++i) {
      __m256 y = _mm256_maskload_ps(c + i * ldc + j, m);
      for (int u = 0; u < U; ++u) y = _mm256_fmadd_ps(s[i][u], wv[u], y);
      _mm256_maskstore_ps(c + i * ldc + j, m, y);
    }
  }
}

template <int M>
METALNN_AVX2 void axpy_rows_avx2(int64_t c0, int64_t c1, int64_t k, const float* a, int64_t lda, const float* w,
                                 int64_t ldw, float* c, int64_t ldc) {
  int64_t t = 0;
  for (; t + 4 <= k; t += 4) add_rows_avx2<M, 4>(c0, c1, t, a, lda, w, ldw, c, ldc);
  for (; t < k; ++t) add_rows_avx2<M, 1>(c0, c1, t, a, lda, w, ldw, c, ldc);
}
#endif

enum class GemvIsa { None, Avx2, Avx512 };

GemvIsa gemv_isa() {
#ifdef METALNN_HAS_AVX2_KERNELS
  static const GemvIsa isa = [] {
    switch (kernel_isa("METALNN_GEMV_KERNELS")) {
      case KernelIsa::Avx512: return GemvIsa::Avx512;
      case KernelIsa::Avx2: return GemvIsa::Avx2;
      default: return GemvIsa::None;
    }
  }();
  return isa;
#else
  return GemvIsa::None;
#endif
}

#ifdef METALNN_HAS_AVX2_KERNELS
// Output columns [c0, c1) of all m rows, on the calling thread.
template <int M>
void gemv_columns(GemvIsa isa, int64_t c0, int64_t c1, int64_t k, float alpha, const float* a, int64_t lda,
                  const float* w, int64_t ldw, bool trans_w, float* c, int64_t ldc) {
  if (trans_w) {
    const int64_t whole = c0 + (c1 - c0) / 4 * 4;
    if (isa == GemvIsa::Avx512) {
      dot_rows_avx512<M, 4>(c0, whole, k, alpha, a, lda, w, ldw, c, ldc);
      dot_rows_avx512<M, 1>(whole, c1, k, alpha, a, lda, w, ldw, c, ldc);
    } else {
      dot_rows_avx2<M, 4>(c0, whole, k, alpha, a, lda, w, ldw, c, ldc);
      dot_rows_avx2<M, 1>(whole, c1, k, alpha, a, lda, w, ldw, c, ldc);
    }
    return;
  }
  for (int64_t b0 = c0; b0 < c1; b0 += kColumnBlock) {
    const int64_t b1 = std::min(c1, b0 + kColumnBlock);
    for (int i = 0; i < M; ++i) std::fill(c + i * ldc + b0, c + i * ldc + b1, 0.f);
    if (isa == GemvIsa::Avx512) {
      axpy_rows_avx512<M>(b0, b1, k, a, lda, w, ldw, c, ldc);
    } else {
      axpy_rows_avx2<M>(b0, b1, k, a, lda, w, ldw, c, ldc);
    }
    if (alpha != 1.f)
      for (int i = 0; i < M; ++i)
        for (int64_t j = b0; j < b1; ++j) c[i * ldc + j] *= alpha;
  }
}
#endif

}  // namespace

bool gemv_available() { return gemv_isa() != GemvIsa::None; }

void gemv(ThreadPool& pool, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* w, int64_t ldw, bool trans_w, float* c, int64_t ldc, const BlockEpilogue& epilogue) {
  const GemvIsa isa = gemv_isa();
  if (isa == GemvIsa::None || m < 1 || m > kGemvMaxRows) throw std::invalid_argument("gemv: no kernel for this case");
  if (n <= 0) return;
#ifdef METALNN_HAS_AVX2_KERNELS
  auto columns = [&](int64_t c0, int64_t c1) {
    switch (m) {
      case 1: gemv_columns<1>(isa, c0, c1, k, alpha, a, lda, w, ldw, trans_w, c, ldc); break;
      case 2: gemv_columns<2>(isa, c0, c1, k, alpha, a, lda, w, ldw, trans_w, c, ldc); break;
      case 3: gemv_columns<3>(isa, c0, c1, k, alpha, a, lda, w, ldw, trans_w, c, ldc); break;
      default: gemv_columns<4>(isa, c0, c1, k, alpha, a, lda, w, ldw, trans_w, c, ldc); break;
    }
    if (epilogue) epilogue(0, m, c0, c1);
  };
  // One contiguous range of columns (weight rows when trans_w) per thread, in whole vectors.
  const int64_t threads = m * n * k < kMinParallelMacs ? 1 : pool.num_threads();
  const int64_t units = (n + 15) / 16, chunks = std::max<int64_t>(1, std::min(threads, units));
  if (chunks == 1) {
    columns(0, n);
    return;
  }
  pool.parallel_for(chunks, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t lo = std::min(n, units * i / chunks * 16), hi = std::min(n, units * (i + 1) / chunks * 16);
      if (lo < hi) columns(lo, hi);
    }
  });
#endif
}

}  // namespace metalnn::cpu
