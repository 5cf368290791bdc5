#include "cpu/parallel_gemm.h"

#include <algorithm>

#include "cpu/blas.h"

namespace metalnn::cpu {

namespace {

// Below this many multiply-adds a second thread costs more to wake than it saves.
constexpr int64_t kMinParallelMacs = int64_t{1} << 18;

}  // namespace

void parallel_sgemm(ThreadPool& pool, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
                    const BlockEpilogue& epilogue) {
  if (m <= 0 || n <= 0) return;
  auto block = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    const float* ab = a + (trans_a ? r0 : r0 * lda);
    const float* bb = b + (trans_b ? c0 * ldb : c0);
    float* cb = c + r0 * ldc + c0;
    // A single row or column of C is a matrix-vector product; sgemm would pack the whole matrix for it.
    if (m == 1) {  // c row = op(B)^T-side: c[0, j] = sum_k a[k] * op(B)[k, j]
      sgemv(!trans_b, trans_b ? int(c1 - c0) : int(k), trans_b ? int(k) : int(c1 - c0), alpha, bb, int(ldb), ab,
            trans_a ? int(lda) : 1, beta, cb, 1);
    } else if (n == 1) {  // c column = op(A) * b
      sgemv(trans_a, trans_a ? int(k) : int(r1 - r0), trans_a ? int(r1 - r0) : int(k), alpha, ab, int(lda), bb,
            trans_b ? 1 : int(ldb), beta, cb, int(ldc));
    } else {
      sgemm(trans_a, trans_b, int(r1 - r0), int(c1 - c0), int(k), alpha, ab, int(lda), bb, int(ldb), beta, cb,
            int(ldc));
    }
    if (epilogue) epilogue(r0, r1, c0, c1);
  };
  const int threads = m * n * k < kMinParallelMacs ? 1 : pool.num_threads();
  // Split the longer side, in multiples of the micro-kernel's tile so no block gets a ragged edge.
  const bool split_cols = n >= m;
  const int64_t align = split_cols ? 16 : 8, extent = split_cols ? n : m;
  const int64_t units = (extent + align - 1) / align;
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(threads, units));
  pool.parallel_for(chunks, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t lo = std::min(extent, units * i / chunks * align);
      const int64_t hi = std::min(extent, units * (i + 1) / chunks * align);
      if (lo >= hi) continue;
      if (split_cols) {
        block(0, m, lo, hi);
      } else {
        block(lo, hi, 0, n);
      }
    }
  });
}

}  // namespace metalnn::cpu
