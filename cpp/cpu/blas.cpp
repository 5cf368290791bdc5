#include "cpu/blas.h"

#if defined(METALNN_USE_ACCELERATE)
#include <Accelerate/Accelerate.h>
#define METALNN_CBLAS(name) cblas_##name
#else
#include <cblas.h>
#define METALNN_CBLAS(name) scipy_cblas_##name
#endif

namespace metalnn::cpu {

void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc) {
  METALNN_CBLAS(sgemm)(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                       m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void sgemv(bool trans_a, int m, int n, float alpha, const float* a, int lda, const float* x, int incx, float beta,
           float* y, int incy) {
  METALNN_CBLAS(sgemv)(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, m, n, alpha, a, lda, x, incx, beta, y,
                       incy);
}

void set_blas_threads(int n) {
#if defined(METALNN_USE_ACCELERATE)
  (void)n;
#else
  scipy_openblas_set_num_threads(n);
#endif
}

}  // namespace metalnn::cpu
