// Each output row splits into borders (taps checked one by one) and an interior where every tap of
// the row is in range: the interior runs tap by tap over contiguous output (vectorised by the
// compiler), or, for 3x3 stride 1/2 on AVX2 machines, all nine taps at once per 8 outputs.
#include "cpu/depthwise_conv.h"

#include <vector>

#include "cpu/activation.h"
#include "cpu/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define METALNN_DW_AVX2 1
#endif

namespace metalnn::cpu {

namespace {

struct PlaneArgs {
  const float* const* rows;  // input row for each kh, nullptr where it falls in padding
  const float* w;            // kernel_h * kernel_w taps
  float bias;
  const Window2d* win;
};

// Outputs [ow0, ow1) with per-tap bounds checks (the borders).
void row_checked(const PlaneArgs& a, int64_t ow0, int64_t ow1, float* out) {
  const Window2d& w = *a.win;
  for (int64_t ow = ow0; ow < ow1; ++ow) {
    float acc = a.bias;
    const int64_t iw0 = ow * w.stride_w - w.pad_left;
    for (int64_t kh = 0; kh < w.kernel_h; ++kh) {
      if (!a.rows[kh]) continue;
      for (int64_t kw = 0; kw < w.kernel_w; ++kw) {
        const int64_t iw = iw0 + kw * w.dilation_w;
        if (iw >= 0 && iw < w.in_w) acc += a.w[kh * w.kernel_w + kw] * a.rows[kh][iw];
      }
    }
    out[ow] = acc;
  }
}

// Outputs [ow0, ow1) where every tap is in range, accumulated tap by tap.
void row_interior(const PlaneArgs& a, int64_t ow0, int64_t ow1, float* out) {
  const Window2d& w = *a.win;
  for (int64_t ow = ow0; ow < ow1; ++ow) out[ow] = a.bias;
  for (int64_t kh = 0; kh < w.kernel_h; ++kh) {
    if (!a.rows[kh]) continue;
    for (int64_t kw = 0; kw < w.kernel_w; ++kw) {
      const float wv = a.w[kh * w.kernel_w + kw];
      const float* src = a.rows[kh] + kw * w.dilation_w - w.pad_left;
      if (w.stride_w == 1) {
        for (int64_t ow = ow0; ow < ow1; ++ow) out[ow] += wv * src[ow];
      } else {
        for (int64_t ow = ow0; ow < ow1; ++ow) out[ow] += wv * src[ow * w.stride_w];
      }
    }
  }
}

#ifdef METALNN_DW_AVX2
// 8 floats p[0], p[S], ..., p[7S] for S = 1 or 2 (S = 2 reads p[0..15]).
template <int S>
__attribute__((target("avx2,fma"), always_inline)) inline __m256 load_strided(const float* p) {
  if (S == 1) return _mm256_loadu_ps(p);
  __m256 even = _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), _MM_SHUFFLE(3, 1, 2, 0)));
}

// 3x3, dilation 1, stride S interior; `rows` has no nullptr (padding rows point at zeros). Returns
// the first output it did not write.
template <int S>
__attribute__((target("avx2,fma"))) int64_t row_3x3_avx2(const float* const* rows, const float* w, float bias,
                                                          int64_t pad_left, int64_t ow0, int64_t ow1, float* out) {
  __m256 k[9];
  for (int i = 0; i < 9; ++i) k[i] = _mm256_set1_ps(w[i]);
  const __m256 b = _mm256_set1_ps(bias);
  // Stride 2 reads one float past the last tap of the 8th output: stop a vector early.
  const int64_t last = ow1 - 8 - (S == 2 ? 1 : 0);
  int64_t ow = ow0;
  for (; ow <= last; ow += 8) {
    __m256 acc = b;
    for (int kh = 0; kh < 3; ++kh) {
      const float* src = rows[kh] + ow * S - pad_left;
      acc = _mm256_fmadd_ps(k[kh * 3 + 0], load_strided<S>(src), acc);
      acc = _mm256_fmadd_ps(k[kh * 3 + 1], load_strided<S>(src + 1), acc);
      acc = _mm256_fmadd_ps(k[kh * 3 + 2], load_strided<S>(src + 2), acc);
    }
    _mm256_storeu_ps(out + ow, acc);
  }
  return ow;
}
#endif

void plane(const float* x, const float* w, float bias, float* y, const Window2d& win, const float* zeros,
           const Activation& act) {
  std::vector<const float*> rows(static_cast<size_t>(win.kernel_h)), padded_rows(rows.size());
  const IndexRange first = valid_range(-win.pad_left, win.stride_w, win.out_w, win.in_w);
  const IndexRange last = valid_range((win.kernel_w - 1) * win.dilation_w - win.pad_left, win.stride_w, win.out_w, win.in_w);
  const int64_t lo = std::max(first.lo, last.lo), hi = std::max(lo, std::min(first.hi, last.hi));
#ifdef METALNN_DW_AVX2
  const bool fast_3x3 = has_avx2_fma() && win.kernel_h == 3 && win.kernel_w == 3 && win.dilation_h == 1 &&
                        win.dilation_w == 1 && (win.stride_w == 1 || win.stride_w == 2);
#endif
  PlaneArgs args{rows.data(), w, bias, &win};
  for (int64_t oh = 0; oh < win.out_h; ++oh) {
    for (int64_t kh = 0; kh < win.kernel_h; ++kh) {
      const int64_t ih = oh * win.stride_h - win.pad_top + kh * win.dilation_h;
      rows[kh] = ih >= 0 && ih < win.in_h ? x + ih * win.in_w : nullptr;
      padded_rows[kh] = rows[kh] ? rows[kh] : zeros;
    }
    float* out = y + oh * win.out_w;
    row_checked(args, 0, lo, out);
    int64_t ow = lo;
#ifdef METALNN_DW_AVX2
    if (fast_3x3)
      ow = win.stride_w == 1 ? row_3x3_avx2<1>(padded_rows.data(), w, bias, win.pad_left, lo, hi, out)
                             : row_3x3_avx2<2>(padded_rows.data(), w, bias, win.pad_left, lo, hi, out);
#endif
    row_interior(args, ow, hi, out);
    row_checked(args, hi, win.out_w, out);
    apply_activation(out, win.out_w, act);
  }
}

}  // namespace

void depthwise_conv2d(const float* x, const float* w, const float* bias, float* y, int64_t batch, int64_t channels,
                      const Window2d& win, const Activation& act, ThreadPool& pool) {
  // Rows in padding read from here in the 3x3 fast path (at most in_w + 16 floats past a row start).
  const std::vector<float> zeros(static_cast<size_t>(win.in_w + 16), 0.f);
  pool.parallel_for(batch * channels, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t c = p % channels;
      plane(x + p * win.in_size(), w + c * win.kernel_size(), bias ? bias[c] : 0.f, y + p * win.out_size(), win,
            zeros.data(), act);
    }
  });
}

}  // namespace metalnn::cpu
