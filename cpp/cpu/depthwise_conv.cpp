// Each task copies one channel plane into a zero-padded scratch plane, so every tap of every output
// is in range: output rows then run without bounds checks, tap by tap over contiguous outputs
// (vectorised by the compiler) or, for 3x3 stride 1/2 on AVX2 machines, nine FMAs per 8 outputs
// (stride 2 over a copy split into even and odd columns).
#include "cpu/depthwise_conv.h"

#include <cstring>
#include <vector>

#include "cpu/activation.h"
#include "cpu/cpu_features.h"
#include "cpu/simd_avx2.h"


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

#ifdef METALNN_HAS_AVX2_KERNELS
// Narrower outputs do better with strided loads from the plain padded plane (measured).
constexpr int64_t kSplitMinOutputWidth = 28;

// For 3x3 stride-2 windows: each zero-padded row stored as its even columns, then its odd columns
// (`half` floats each), so the three taps of 8 outputs are three contiguous loads rather than six
// loads and shuffles.
struct SplitPlane {
  int64_t half, height;
  std::vector<float> data;

  explicit SplitPlane(const Window2d& w) {
    const int64_t vec_out = (w.out_w + 7) / 8 * 8;
    half = std::max((w.in_w + w.pad_left + w.pad_right + 1) / 2, vec_out + 1);
    height = std::max(w.in_h + w.pad_top + w.pad_bottom, (w.out_h - 1) * w.stride_h + w.kernel_h);
    data.assign(static_cast<size_t>(2 * half * height), 0.f);
  }
  void fill(const float* x, const Window2d& w);
  const float* even(int64_t h) const { return data.data() + h * 2 * half; }
};

// Padded column j = pad_left + iw of a row goes to its half (j % 2) at j / 2.
METALNN_AVX2 void SplitPlane::fill(const float* x, const Window2d& w) {
  const int64_t p = w.pad_left;
  for (int64_t h = 0; h < w.in_h; ++h) {
    const float* src = x + h * w.in_w;
    float* row = data.data() + (h + w.pad_top) * 2 * half;
    float* from_even = row + (p & 1) * half + p / 2;         // where x[2i] goes: from_even[i]
    float* from_odd = row + ((p + 1) & 1) * half + (p + 1) / 2;  // where x[2i + 1] goes
    int64_t i = 0;
    for (; 2 * i + 16 <= w.in_w; i += 8) {
      const __m256 a = _mm256_loadu_ps(src + 2 * i), b = _mm256_loadu_ps(src + 2 * i + 8);
      const __m256 evens = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
      const __m256 odds = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
      _mm256_storeu_ps(from_even + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(evens), _MM_SHUFFLE(3, 1, 2, 0))));
      _mm256_storeu_ps(from_odd + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(odds), _MM_SHUFFLE(3, 1, 2, 0))));
    }
    for (; 2 * i + 1 < w.in_w; ++i) {
      from_even[i] = src[2 * i];
      from_odd[i] = src[2 * i + 1];
    }
    if (2 * i < w.in_w) from_even[i] = src[2 * i];
  }
}

// A whole plane of a 3x3 stride-2 (horizontally) depthwise conv over a SplitPlane, clamped to
// [lo, hi] before the store.
METALNN_AVX2 void plane_3x3_s2_avx2(const SplitPlane& in, const float* w, float bias, float lo, float hi,
                                    const Window2d& win, float* y) {
  __m256 k[9];
  for (int i = 0; i < 9; ++i) k[i] = _mm256_set1_ps(w[i]);
  const __m256 b = _mm256_set1_ps(bias), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  const int64_t out_w = win.out_w, full = out_w / 8 * 8;
  const __m256i tail_mask = first_lanes(out_w - full);
  for (int64_t oh = 0; oh < win.out_h; ++oh) {
    float* out = y + oh * out_w;
    for (int64_t ow = 0; ow < out_w; ow += 8) {
      __m256 acc = b;
      for (int kh = 0; kh < 3; ++kh) {
        const float* even = in.even(oh * win.stride_h + kh) + ow;
        const float* odd = even + in.half;
        acc = _mm256_fmadd_ps(k[kh * 3], _mm256_loadu_ps(even), acc);
        acc = _mm256_fmadd_ps(k[kh * 3 + 1], _mm256_loadu_ps(odd), acc);
        acc = _mm256_fmadd_ps(k[kh * 3 + 2], _mm256_loadu_ps(even + 1), acc);
      }
      acc = _mm256_min_ps(vhi, _mm256_max_ps(vlo, acc));
      if (ow < full) {
        _mm256_storeu_ps(out + ow, acc);
      } else {
        _mm256_maskstore_ps(out + ow, tail_mask, acc);
      }
    }
  }
}
#endif

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

#ifdef METALNN_HAS_AVX2_KERNELS
// A whole plane of a 3x3, dilation 1, stride S depthwise conv over the padded input, clamped to
// [lo, hi] (the fused activation when it is one) before the store; the weights stay in registers.
template <int S>
METALNN_AVX2 void plane_3x3_avx2(const PaddedPlane& in, const float* w, float bias, float lo,
                                                         float hi, const Window2d& win, float* y) {
  __m256 k[9];
  for (int i = 0; i < 9; ++i) k[i] = _mm256_set1_ps(w[i]);
  const __m256 b = _mm256_set1_ps(bias), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  const int64_t out_w = win.out_w, full = out_w / 8 * 8;
  const __m256i tail_mask = first_lanes(out_w - full);
  auto output = [&](const float* r0, const float* r1, const float* r2) __attribute__((target("avx2,fma"))) {
    __m256 acc = _mm256_fmadd_ps(k[0], load_strided<S>(r0), b);
    acc = _mm256_fmadd_ps(k[1], load_strided<S>(r0 + 1), acc);
    acc = _mm256_fmadd_ps(k[2], load_strided<S>(r0 + 2), acc);
    acc = _mm256_fmadd_ps(k[3], load_strided<S>(r1), acc);
    acc = _mm256_fmadd_ps(k[4], load_strided<S>(r1 + 1), acc);
    acc = _mm256_fmadd_ps(k[5], load_strided<S>(r1 + 2), acc);
    acc = _mm256_fmadd_ps(k[6], load_strided<S>(r2), acc);
    acc = _mm256_fmadd_ps(k[7], load_strided<S>(r2 + 1), acc);
    acc = _mm256_fmadd_ps(k[8], load_strided<S>(r2 + 2), acc);
    return _mm256_min_ps(vhi, _mm256_max_ps(vlo, acc));
  };
  for (int64_t oh = 0; oh < win.out_h; ++oh) {
    const float* r0 = in.row(oh * win.stride_h);
    const float *r1 = r0 + in.width, *r2 = r1 + in.width;
    float* out = y + oh * out_w;
    for (int64_t ow = 0; ow < full; ow += 8) _mm256_storeu_ps(out + ow, output(r0 + ow * S, r1 + ow * S, r2 + ow * S));
    if (full < out_w) _mm256_maskstore_ps(out + full, tail_mask, output(r0 + full * S, r1 + full * S, r2 + full * S));
  }
}
#endif

void plane(const PaddedPlane& in, const float* w, float bias, float* y, const Window2d& win, const Activation& act) {
#ifdef METALNN_HAS_AVX2_KERNELS
  if (has_avx2_fma() && win.kernel_h == 3 && win.kernel_w == 3 && win.dilation_h == 1 && win.dilation_w == 1 &&
      (win.stride_w == 1 || win.stride_w == 2)) {
    float lo, hi;
    const bool clamp = activation_as_clamp(act, lo, hi);
    if (win.stride_w == 1) plane_3x3_avx2<1>(in, w, bias, lo, hi, win, y);
    else plane_3x3_avx2<2>(in, w, bias, lo, hi, win, y);
    if (!clamp) apply_activation(y, win.out_size(), act);
    return;
  }
#endif
  const float* rows[16];
  std::vector<const float*> many_rows(win.kernel_h > 16 ? win.kernel_h : 0);
  const float** row_ptrs = win.kernel_h > 16 ? many_rows.data() : rows;
  for (int64_t oh = 0; oh < win.out_h; ++oh) {
    for (int64_t kh = 0; kh < win.kernel_h; ++kh) row_ptrs[kh] = in.row(oh * win.stride_h + kh * win.dilation_h);
    float* out = y + oh * win.out_w;
    row_generic(row_ptrs, w, bias, win, out);
    apply_activation(out, win.out_w, act);
  }
}

}  // namespace

void depthwise_conv2d(const float* x, const float* w, const float* bias, float* y, int64_t batch, int64_t channels,
                      const Window2d& win, const Activation& act, ThreadPool& pool) {
#ifdef METALNN_HAS_AVX2_KERNELS
  if (has_avx2_fma() && win.kernel_h == 3 && win.kernel_w == 3 && win.dilation_h == 1 && win.dilation_w == 1 &&
      win.stride_w == 2 && win.out_w >= kSplitMinOutputWidth) {
    float lo, hi;
    const bool clamp = activation_as_clamp(act, lo, hi);
    pool.parallel_for(batch * channels, 1, [&](int64_t p0, int64_t p1) {
      SplitPlane split(win);
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t c = p % channels;
        split.fill(x + p * win.in_size(), win);
        plane_3x3_s2_avx2(split, w + c * 9, bias ? bias[c] : 0.f, lo, hi, win, y + p * win.out_size());
        if (!clamp) apply_activation(y + p * win.out_size(), win.out_size(), act);
      }
    });
    return;
  }
#endif
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
