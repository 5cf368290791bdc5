// Each task copies one channel plane into a zero-padded scratch plane, so every tap of every output
// is in range: output rows then run without bounds checks, tap by tap over contiguous outputs
// (vectorised by the compiler) or, for 3x3 stride 1/2 on AVX2 machines, nine FMAs per 8 outputs.
#include "cpu/depthwise_conv.h"

#include <cstring>
#include <vector>

#include "cpu/activation.h"
#include "cpu/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define METALNN_DW_AVX2 1
#endif

namespace metalnn::cpu {

namespace {

// The zero-padded copy of one input plane; wide enough that whole 8-output vectors (and the stride-2
// loads, which read one float past their last tap) never leave it.
struct PaddedPlane {
  int64_t width, height;
  std::vector<float> data;

  explicit PaddedPlane(const Window2d& w) {
    const int64_t vec_out = (w.out_w + 7) / 8 * 8;
    width = std::max(w.in_w + w.pad_left + w.pad_right, (vec_out - 1) * w.stride_w + (w.kernel_w - 1) * w.dilation_w + 2);
    height = std::max(w.in_h + w.pad_top + w.pad_bottom, (w.out_h - 1) * w.stride_h + (w.kernel_h - 1) * w.dilation_h + 1);
    data.assign(static_cast<size_t>(width * height), 0.f);
  }
  // Copies `x` in; the margins stay zero from construction (they are never written).
  void fill(const float* x, const Window2d& w) {
    for (int64_t h = 0; h < w.in_h; ++h)
      std::memcpy(&data[(h + w.pad_top) * width + w.pad_left], x + h * w.in_w, static_cast<size_t>(w.in_w) * sizeof(float));
  }
  const float* row(int64_t h) const { return data.data() + h * width; }
};

// One output row, tap by tap; rows[kh] is the padded input row tap kh reads.
void row_generic(const float* const* rows, const float* w, float bias, const Window2d& win, float* out) {
  for (int64_t ow = 0; ow < win.out_w; ++ow) out[ow] = bias;
  for (int64_t kh = 0; kh < win.kernel_h; ++kh)
    for (int64_t kw = 0; kw < win.kernel_w; ++kw) {
      const float wv = w[kh * win.kernel_w + kw];
      const float* src = rows[kh] + kw * win.dilation_w;
      if (win.stride_w == 1) {
        for (int64_t ow = 0; ow < win.out_w; ++ow) out[ow] += wv * src[ow];
      } else {
        for (int64_t ow = 0; ow < win.out_w; ++ow) out[ow] += wv * src[ow * win.stride_w];
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

// One output row of a 3x3, dilation 1, stride S depthwise conv over padded rows.
template <int S>
__attribute__((target("avx2,fma"))) void row_3x3_avx2(const float* const* rows, const float* w, float bias,
                                                       int64_t out_w, float* out) {
  __m256 k[9];
  for (int i = 0; i < 9; ++i) k[i] = _mm256_set1_ps(w[i]);
  const __m256 b = _mm256_set1_ps(bias);
  for (int64_t ow = 0; ow < out_w; ow += 8) {
    __m256 acc = b;
    for (int kh = 0; kh < 3; ++kh) {
      const float* src = rows[kh] + ow * S;
      acc = _mm256_fmadd_ps(k[kh * 3 + 0], load_strided<S>(src), acc);
      acc = _mm256_fmadd_ps(k[kh * 3 + 1], load_strided<S>(src + 1), acc);
      acc = _mm256_fmadd_ps(k[kh * 3 + 2], load_strided<S>(src + 2), acc);
    }
    if (ow + 8 <= out_w) {
      _mm256_storeu_ps(out + ow, acc);
    } else {  // the row's last, partial vector
      alignas(32) float tail[8];
      _mm256_store_ps(tail, acc);
      std::memcpy(out + ow, tail, static_cast<size_t>(out_w - ow) * sizeof(float));
    }
  }
}
#endif

void plane(const PaddedPlane& in, const float* w, float bias, float* y, const Window2d& win, const Activation& act) {
  const float* rows[16];
  std::vector<const float*> many_rows(win.kernel_h > 16 ? win.kernel_h : 0);
  const float** row_ptrs = win.kernel_h > 16 ? many_rows.data() : rows;
#ifdef METALNN_DW_AVX2
  const bool fast_3x3 = has_avx2_fma() && win.kernel_h == 3 && win.kernel_w == 3 && win.dilation_h == 1 &&
                        win.dilation_w == 1 && (win.stride_w == 1 || win.stride_w == 2);
#endif
  for (int64_t oh = 0; oh < win.out_h; ++oh) {
    for (int64_t kh = 0; kh < win.kernel_h; ++kh) row_ptrs[kh] = in.row(oh * win.stride_h + kh * win.dilation_h);
    float* out = y + oh * win.out_w;
#ifdef METALNN_DW_AVX2
    if (fast_3x3) {
      if (win.stride_w == 1) row_3x3_avx2<1>(row_ptrs, w, bias, win.out_w, out);
      else row_3x3_avx2<2>(row_ptrs, w, bias, win.out_w, out);
    } else {
      row_generic(row_ptrs, w, bias, win, out);
    }
#else
    row_generic(row_ptrs, w, bias, win, out);
#endif
    apply_activation(out, win.out_w, act);
  }
}

}  // namespace

void depthwise_conv2d(const float* x, const float* w, const float* bias, float* y, int64_t batch, int64_t channels,
                      const Window2d& win, const Activation& act, ThreadPool& pool) {
  pool.parallel_for(batch * channels, 1, [&](int64_t p0, int64_t p1) {
    PaddedPlane padded(win);
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t c = p % channels;
      padded.fill(x + p * win.in_size(), win);
      plane(padded, w + c * win.kernel_size(), bias ? bias[c] : 0.f, y + p * win.out_size(), win, act);
    }
  });
}

}  // namespace metalnn::cpu
