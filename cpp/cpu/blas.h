// Single-precision GEMM through the platform BLAS (Accelerate on Apple, OpenBLAS elsewhere).
#pragma once

namespace metalnn::cpu {

// C = alpha * op(A) * op(B) + beta * C, row-major; op transposes when the flag is set.
void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc);

// y = alpha * op(A) * x + beta * y, A row-major m x n; op transposes when the flag is set.
void sgemv(bool trans_a, int m, int n, float alpha, const float* a, int lda, const float* x, int incx, float beta,
           float* y, int incy);

// Threads BLAS may use inside one call; set once from the pool size.
void set_blas_threads(int n);

}  // namespace metalnn::cpu
