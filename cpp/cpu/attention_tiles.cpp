#include "cpu/attention_tiles.h"

#include <algorithm>

#include "cpu/cpu_features.h"
#include "cpu/simd_avx2.h"

namespace metalnn::cpu {

bool attention_tiles_available() {
#ifdef METALNN_HAS_AVX2_KERNELS
  static const bool yes = kernel_isa("METALNN_ATTENTION_KERNELS") == KernelIsa::Avx512;
  return yes;
#else
  return false;
#endif
}

#ifdef METALNN_HAS_AVX2_KERNELS
#define METALNN_AT_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma")))

namespace {

// R rows x P vectors of 16 keys' scores: each step over d loads P vectors of a row of Kt (the last
// one masked by `last`) and broadcasts R query values.
template <int R, int P>
METALNN_AT_AVX512 void scores_tile(const float* q, int64_t ldq, const float* kt, int64_t ldk, int64_t dim,
                                   float scale, float* s, int64_t lds, __mmask16 last) {
  __m512 acc[R][P];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) acc[r][p] = _mm512_setzero_ps();
  for (int64_t d = 0; d < dim; ++d) {
    __m512 k[P];
#pragma GCC unroll 2
    for (int p = 0; p < P - 1; ++p) k[p] = _mm512_loadu_ps(kt + d * ldk + p * 16);
    k[P - 1] = _mm512_maskz_loadu_ps(last, kt + d * ldk + (P - 1) * 16);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 qv = _mm512_set1_ps(q[r * ldq + d]);
#pragma GCC unroll 2
      for (int p = 0; p < P; ++p) acc[r][p] = _mm512_fmadd_ps(qv, k[p], acc[r][p]);
    }
  }
  const __m512 sv = _mm512_set1_ps(scale);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) _mm512_storeu_ps(s + r * lds + p * 16, _mm512_mul_ps(acc[r][p], sv));
}

// R rows x C vectors of 16 value columns (the last one masked by `last`), summed over nk keys and
// added to y. The loops over R and C are unrolled by pragma: left as loops, GCC keeps the
// accumulators in memory.
template <int R, int C>
METALNN_AT_AVX512 void values_tile(const float* p, int64_t ldp, const float* v, int64_t ldv, int64_t nk, float* y,
                                   int64_t ldy, __mmask16 last) {
  __m512 acc[R][C];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  for (int64_t j = 0; j < nk; ++j) {
    __m512 vv[C];
#pragma GCC unroll 2
    for (int c = 0; c < C - 1; ++c) vv[c] = _mm512_loadu_ps(v + j * ldv + c * 16);
    vv[C - 1] = _mm512_maskz_loadu_ps(last, v + j * ldv + (C - 1) * 16);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 pv = _mm512_set1_ps(p[r * ldp + j]);
#pragma GCC unroll 2
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(pv, vv[c], acc[r][c]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    float* yr = y + r * ldy;
#pragma GCC unroll 2
    for (int c = 0; c < C - 1; ++c) _mm512_storeu_ps(yr + c * 16, _mm512_add_ps(_mm512_loadu_ps(yr + c * 16), acc[r][c]));
    float* yl = yr + (C - 1) * 16;
    _mm512_mask_storeu_ps(yl, last, _mm512_add_ps(_mm512_maskz_loadu_ps(last, yl), acc[r][C - 1]));
  }
}

// The first n of 16 lanes, 1 <= n <= 16.
inline __mmask16 lanes(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }

// Calls F::run<R>() for the run-time row count 1..8.
template <class F>
METALNN_AT_AVX512 void with_rows(int64_t nr, F f) {
  switch (nr) {
    case 1: f.template run<1>(); break;
    case 2: f.template run<2>(); break;
    case 3: f.template run<3>(); break;
    case 4: f.template run<4>(); break;
    case 5: f.template run<5>(); break;
    case 6: f.template run<6>(); break;
    case 7: f.template run<7>(); break;
    default: f.template run<8>(); break;
  }
}

struct Scores {
  const float* q;
  int64_t ldq;
  const float* kt;
  int64_t ldk, dim, nk;
  float scale;
  float* s;
  int64_t lds;
  template <int R>
  METALNN_AT_AVX512 void run() const {
    for (int64_t j = 0; j < nk; j += 32) {
      const int64_t n = std::min<int64_t>(32, nk - j);
      const __mmask16 last = lanes(n > 16 ? n - 16 : n);
      if (n > 16) scores_tile<R, 2>(q, ldq, kt + j, ldk, dim, scale, s + j, lds, last);
      else scores_tile<R, 1>(q, ldq, kt + j, ldk, dim, scale, s + j, lds, last);
    }
  }
};

struct Values {
  const float* p;
  int64_t ldp;
  const float* v;
  int64_t ldv, nk, v_dim;
  float* y;
  int64_t ldy;
  template <int R>
  METALNN_AT_AVX512 void run() const {
    for (int64_t c = 0; c < v_dim; c += 32) {
      const int64_t n = std::min<int64_t>(32, v_dim - c);
      const __mmask16 last = lanes(n > 16 ? n - 16 : n);
      if (n > 16) values_tile<R, 2>(p, ldp, v + c, ldv, nk, y + c, ldy, last);
      else values_tile<R, 1>(p, ldp, v + c, ldv, nk, y + c, ldy, last);
    }
  }
};

}  // namespace

METALNN_AT_AVX512 void attention_scores(const float* q, int64_t ldq, int64_t nr, const float* kt, int64_t ldk,
                                        int64_t dim, int64_t nk, float scale, float* s, int64_t lds) {
  with_rows(nr, Scores{q, ldq, kt, ldk, dim, nk, scale, s, lds});
}

METALNN_AT_AVX512 void attention_values(const float* p, int64_t ldp, int64_t nr, const float* v, int64_t ldv,
                                        int64_t nk, int64_t v_dim, float* y, int64_t ldy) {
  with_rows(nr, Values{p, ldp, v, ldv, nk, v_dim, y, ldy});
}

#else  // the same sums in plain C++, for builds without the x86 kernels (never chosen there)

void attention_scores(const float* q, int64_t ldq, int64_t nr, const float* kt, int64_t ldk, int64_t dim,
                      int64_t nk, float scale, float* s, int64_t lds) {
  for (int64_t r = 0; r < nr; ++r)
    for (int64_t j = 0; j < nk; ++j) {
      float sum = 0.f;
      for (int64_t d = 0; d < dim; ++d) sum += q[r * ldq + d] * kt[d * ldk + j];
      s[r * lds + j] = scale * sum;
    }
}

void attention_values(const float* p, int64_t ldp, int64_t nr, const float* v, int64_t ldv, int64_t nk,
                      int64_t v_dim, float* y, int64_t ldy) {
  for (int64_t r = 0; r < nr; ++r)
    for (int64_t j = 0; j < nk; ++j)
      for (int64_t c = 0; c < v_dim; ++c) y[r * ldy + c] += p[r * ldp + j] * v[j * ldv + c];
}

#endif

}  // namespace metalnn::cpu
