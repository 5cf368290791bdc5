// Matrix-vector products against a large weight matrix (a fully connected layer at batch 1 to 4):
// the weights are read once, straight from where they lie (no packing), each thread streaming one
// contiguous range of output columns, with the input rows held in cache.
#pragma once
#include <cstdint>

#include "cpu/parallel_gemm.h"
#include "cpu/thread_pool.h"

namespace metalnn::cpu {

// Most rows of A gemv() takes: its register tiles hold up to four; more rows go to the packed GEMM.
constexpr int64_t kGemvMaxRows = 4;

// Whether gemv() has a vector kernel on this CPU (METALNN_GEMV_KERNELS=avx512|avx2|portable caps it;
// portable: none, the caller keeps its general path).
bool gemv_available();

// c[i, j] = alpha * sum_t a[i, t] * w(t, j) for i < m, j < n: a is m x k (row stride lda), w is n x k
// (row stride ldw) when trans_w, else k x n; c has row stride ldc. epilogue(0, m, c0, c1) runs on each
// finished column range. Needs gemv_available() and 1 <= m <= kGemvMaxRows.
void gemv(ThreadPool& pool, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* w, int64_t ldw, bool trans_w, float* c, int64_t ldc, const BlockEpilogue& epilogue);

}  // namespace metalnn::cpu
