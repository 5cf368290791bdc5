// Multi-threaded sgemm on the engine's own pool: C is cut into blocks of rows or columns, one
// single-threaded BLAS call per block, and each block's epilogue runs right after its GEMM while it
// is still in cache. BLAS's own threads stay off, so they never spin against the pool's.
#pragma once
#include <cstdint>
#include <functional>

#include "cpu/thread_pool.h"

namespace metalnn::cpu {

// Called on each finished block of C: rows [r0, r1), columns [c0, c1).
using BlockEpilogue = std::function<void(int64_t r0, int64_t r1, int64_t c0, int64_t c1)>;

// C = alpha * op(A) * op(B) + beta * C (row-major, as sgemm), then epilogue per block (may be empty).
void parallel_sgemm(ThreadPool& pool, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
                    const BlockEpilogue& epilogue);

}  // namespace metalnn::cpu
