#include "cpu/attention_tiles.h"

#include <algorithm>
#include <cmath>

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
#define METALNN_AT_AVX512_INLINE __attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma"), always_inline)) inline

namespace {

// R rows x P vectors of 16 keys' scores q . Kt into acc: each step over d loads P vectors of a row of
// Kt (the last one masked by `last`) and broadcasts R query values.
template <int R, int P>
METALNN_AT_AVX512_INLINE void score_sums(const float* q, int64_t ldq, const float* kt, int64_t ldk, int64_t dim,
                                         __mmask16 last, __m512 (&acc)[R][P]) {
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) acc[r][p] = _mm512_setzero_ps();
  for (int64_t d = 0; d < dim; ++d) {
    __m512 k[P];
#pragma GCC unroll 2
    for (int p = 0; p < P - 1; ++p) k[p] = _mm512_loadu_ps(kt + d * ldk + p * 16);
    k[P - 1] = _mm512_maskz_loadu_ps(last, kt + d * ldk + (P - 1) * 16);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const __m512 qv = _mm512_set1_ps(q[r * ldq + d]);
#pragma GCC unroll 2
      for (int p = 0; p < P; ++p) acc[r][p] = _mm512_fmadd_ps(qv, k[p], acc[r][p]);
    }
  }
}

// R rows x P vectors of 16 keys' scores, times scale, stored.
template <int R, int P>
METALNN_AT_AVX512 void scores_tile(const float* q, int64_t ldq, const float* kt, int64_t ldk, int64_t dim,
                                   float scale, float* s, int64_t lds, __mmask16 last) {
  __m512 acc[R][P];
  score_sums<R, P>(q, ldq, kt, ldk, dim, last, acc);
  const __m512 sv = _mm512_set1_ps(scale);
#pragma GCC unroll 12
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
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  for (int64_t j = 0; j < nk; ++j) {
    __m512 vv[C];
#pragma GCC unroll 2
    for (int c = 0; c < C - 1; ++c) vv[c] = _mm512_loadu_ps(v + j * ldv + c * 16);
    vv[C - 1] = _mm512_maskz_loadu_ps(last, v + j * ldv + (C - 1) * 16);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const __m512 pv = _mm512_set1_ps(p[r * ldp + j]);
#pragma GCC unroll 2
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(pv, vv[c], acc[r][c]);
    }
  }
#pragma GCC unroll 12
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

// e^t for softmax arguments t <= kAttentionProbSlack, so without an overflow clamp: u = t log2(e)
// = n + f with |f| <= 1/2, a degree-6 polynomial for 2^f (relative error 1e-7), times 2^n. The
// rounding of u costs at most a few parts in 1e7 of e^t for the t that weigh. 0 below 2^-125 (and
// for t = -inf) rather than a subnormal that slows every product it feeds; NaN stays NaN.
METALNN_AT_AVX512_INLINE __m512 softmax_exp(__m512 t) {
  const __m512 u = _mm512_mul_ps(t, _mm512_set1_ps(1.44269504088896341f));
  const __m512 n = _mm512_roundscale_ps(u, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), f = _mm512_sub_ps(u, n);
  __m512 p = _mm512_set1_ps(1.534581242594868e-4f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3399930903688073e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618489071726799e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550328642129898e-2f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022646248340607e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931471824645996e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f));
  return _mm512_maskz_scalef_ps(_mm512_cmp_ps_mask(u, _mm512_set1_ps(-125.f), _CMP_NLT_UQ), p, n);
}

// The running state of a block's softmax rows (see attention_probs).
struct ProbRows {
  float* ref;
  float* sum;
  float* y;
  int64_t ldy, v_dim;
  alignas(64) float lane_sums[kAttentionTileRows][16];
};

// Row r's reference rises to the largest of its tile's scores, the lanes of top: what the row has so
// far (its probabilities p[-done, 0), its sums, its output) is rescaled by e^(old - new). Out of line
// and given a value, so that the tile's accumulators stay in registers.
__attribute__((noinline, target("avx512f,avx512vl,avx512bw,avx2,fma"))) void raise_reference(ProbRows& rows, int r,
                                                                                          __m512 top, float* p,
                                                                                          int64_t done) {
  const float m = _mm512_reduce_max_ps(top), f = std::exp(rows.ref[r] - m);
  rows.ref[r] = m;
  rows.sum[r] *= f;
  const __m512 fv = _mm512_set1_ps(f);
  _mm512_store_ps(rows.lane_sums[r], _mm512_mul_ps(_mm512_load_ps(rows.lane_sums[r]), fv));
  for (float* e = p - done; e < p; ++e) *e *= f;
  float* yr = rows.y + r * rows.ldy;
  for (int64_t c = 0; c < rows.v_dim; ++c) yr[c] *= f;
}

// R rows x P vectors of 16 keys' probabilities: the scores (+ the mask, lanes past the last key
// -inf), then e^(score - ref) while they are in registers.
template <int R, int P>
METALNN_AT_AVX512 void probs_tile(const float* q, int64_t ldq, const float* kt, int64_t ldk, int64_t dim,
                                  const float* mask, int64_t ldm, float* p, int64_t ldp, int64_t done, __mmask16 last,
                                  ProbRows& rows) {
  __m512 acc[R][P];
  score_sums<R, P>(q, ldq, kt, ldk, dim, last, acc);
  const __m512 ninf = _mm512_set1_ps(-__builtin_inff()), slack = _mm512_set1_ps(kAttentionProbSlack);
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
    if (mask) {
#pragma GCC unroll 2
      for (int i = 0; i < P; ++i) {
        const float* m = mask + r * ldm + i * 16;
        acc[r][i] = _mm512_add_ps(acc[r][i], i == P - 1 ? _mm512_maskz_loadu_ps(last, m) : _mm512_loadu_ps(m));
      }
    }
    if (last != 0xffff) acc[r][P - 1] = _mm512_mask_mov_ps(ninf, last, acc[r][P - 1]);
    __m512 ref = _mm512_set1_ps(rows.ref[r]), t[P];
    __mmask16 over = 0;
#pragma GCC unroll 2
    for (int i = 0; i < P; ++i) {
      t[i] = _mm512_sub_ps(acc[r][i], ref);
      over |= _mm512_cmp_ps_mask(t[i], slack, _CMP_GT_OQ);
    }
    if (over) {
      raise_reference(rows, r, P == 2 ? _mm512_max_ps(acc[r][0], acc[r][P - 1]) : acc[r][0], p + r * ldp, done);
      ref = _mm512_set1_ps(rows.ref[r]);
#pragma GCC unroll 2
      for (int i = 0; i < P; ++i) t[i] = _mm512_sub_ps(acc[r][i], ref);
    }
    __m512 s = _mm512_load_ps(rows.lane_sums[r]);
#pragma GCC unroll 2
    for (int i = 0; i < P; ++i) {
      const __m512 e = softmax_exp(t[i]);
      if (i == P - 1) _mm512_mask_storeu_ps(p + r * ldp + i * 16, last, e);
      else _mm512_storeu_ps(p + r * ldp + i * 16, e);
      s = _mm512_add_ps(s, e);
    }
    _mm512_store_ps(rows.lane_sums[r], s);
  }
}

struct Probs {
  const float* q;
  int64_t ldq;
  const float* kt;
  int64_t ldk, panel, dim, nk;
  const float* mask;
  int64_t ldm;
  float* p;
  int64_t ldp;
  ProbRows* rows;
  template <int R>
  METALNN_AT_AVX512 void run() const {
    for (int64_t j = 0; j < nk; j += 32) {
      const int64_t n = std::min<int64_t>(32, nk - j);
      const __mmask16 last = lanes(n > 16 ? n - 16 : n);
      const float* mj = mask ? mask + j : nullptr;
      if (n > 16) probs_tile<R, 2>(q, ldq, kt + j / 32 * panel, ldk, dim, mj, ldm, p + j, ldp, j, last, *rows);
      else probs_tile<R, 1>(q, ldq, kt + j / 32 * panel, ldk, dim, mj, ldm, p + j, ldp, j, last, *rows);
    }
  }
};

// Calls F::run<R>() for the run-time row count 1..kAttentionTileRows.
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
    case 8: f.template run<8>(); break;
    case 9: f.template run<9>(); break;
    case 10: f.template run<10>(); break;
    case 11: f.template run<11>(); break;
    default: f.template run<12>(); break;
  }
}

struct Scores {
  const float* q;
  int64_t ldq;
  const float* kt;
  int64_t ldk, panel, dim, nk;
  float scale;
  float* s;
  int64_t lds;
  template <int R>
  METALNN_AT_AVX512 void run() const {
    for (int64_t j = 0; j < nk; j += 32) {
      const int64_t n = std::min<int64_t>(32, nk - j);
      const __mmask16 last = lanes(n > 16 ? n - 16 : n);
      if (n > 16) scores_tile<R, 2>(q, ldq, kt + j / 32 * panel, ldk, dim, scale, s + j, lds, last);
      else scores_tile<R, 1>(q, ldq, kt + j / 32 * panel, ldk, dim, scale, s + j, lds, last);
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
                                        int64_t panel, int64_t dim, int64_t nk, float scale, float* s,
                                        int64_t lds) {
  with_rows(nr, Scores{q, ldq, kt, ldk, panel, dim, nk, scale, s, lds});
}

METALNN_AT_AVX512 void attention_values(const float* p, int64_t ldp, int64_t nr, const float* v, int64_t ldv,
                                        int64_t nk, int64_t v_dim, float* y, int64_t ldy) {
  with_rows(nr, Values{p, ldp, v, ldv, nk, v_dim, y, ldy});
}

METALNN_AT_AVX512 void attention_probs(const float* q, int64_t ldq, int64_t nr, const float* kt, int64_t ldk,
                                       int64_t panel, int64_t dim, int64_t nk, const float* mask, int64_t ldm, float* p,
                                       int64_t ldp, float* ref, float* sum, float* y, int64_t ldy, int64_t v_dim) {
  ProbRows rows{ref, sum, y, ldy, v_dim, {}};
  with_rows(nr, Probs{q, ldq, kt, ldk, panel, dim, nk, mask, ldm, p, ldp, &rows});
  for (int64_t r = 0; r < nr; ++r) sum[r] += _mm512_reduce_add_ps(_mm512_load_ps(rows.lane_sums[r]));
}

#else  // the same sums in plain C++, for builds without the x86 kernels (never chosen there)

void attention_scores(const float* q, int64_t ldq, int64_t nr, const float* kt, int64_t ldk, int64_t panel,
                      int64_t dim, int64_t nk, float scale, float* s, int64_t lds) {
  for (int64_t r = 0; r < nr; ++r)
    for (int64_t j = 0; j < nk; ++j) {
      float sum = 0.f;
      for (int64_t d = 0; d < dim; ++d) sum += q[r * ldq + d] * kt[j / 32 * panel + d * ldk + j % 32];
      s[r * lds + j] = scale * sum;
    }
}

void attention_values(const float* p, int64_t ldp, int64_t nr, const float* v, int64_t ldv, int64_t nk,
                      int64_t v_dim, float* y, int64_t ldy) {
  for (int64_t r = 0; r < nr; ++r)
    for (int64_t j = 0; j < nk; ++j)
      for (int64_t c = 0; c < v_dim; ++c) y[r * ldy + c] += p[r * ldp + j] * v[j * ldv + c];
}

void attention_probs(const float* q, int64_t ldq, int64_t nr, const float* kt, int64_t ldk, int64_t panel,
                     int64_t dim, int64_t nk, const float* mask, int64_t ldm, float* p, int64_t ldp, float* ref,
                     float* sum, float* y, int64_t ldy, int64_t v_dim) {
  attention_scores(q, ldq, nr, kt, ldk, panel, dim, nk, 1.f, p, ldp);
  for (int64_t r = 0; r < nr; ++r) {
    float* pr = p + r * ldp;
    if (mask)
      for (int64_t j = 0; j < nk; ++j) pr[j] += mask[r * ldm + j];
    const float m = *std::max_element(pr, pr + nk);
    if (m > ref[r]) {
      const float f = std::exp(ref[r] - m);
      sum[r] *= f;
      for (int64_t c = 0; c < v_dim; ++c) y[r * ldy + c] *= f;
      ref[r] = m;
    }
    for (int64_t j = 0; j < nk; ++j) sum[r] += (pr[j] = std::exp(pr[j] - ref[r]));
  }
}

#endif

}  // namespace metalnn::cpu
