#include "cpu/depthwise_stride2.h"

#include <algorithm>
#include <atomic>

#include "cpu/activation.h"
#include "cpu/activation_avx512.h"

namespace metalnn::cpu {

bool depthwise_stride2_suits(const Window2d& win, bool isa_ok) {
  // Measured (one thread) against the channel-blocked path, whose transposes of every input pixel
  // cost more than its stride-2 convolution, and the per-plane path's phase-split copy: 3x3 from 14
  // outputs wide 10-25% less time, 56 wide 40%. Rows of 8 or fewer leave most lanes empty (7 wide
  // measured 10% slower); 5x5 (a permute per tap) measured no faster than the blocked path.
  return isa_ok && win.in_h > 1 && win.stride_h == 2 && win.stride_w == 2 && win.dilation_h == 1 &&
         win.dilation_w == 1 && win.kernel_w == 3 && win.out_w > 8;
}

#ifdef METALNN_HAS_AVX2_KERNELS
namespace {

#define METALNN_S2_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma")))

// Outputs per vector when a row fills it: 2 (J - 1) + kernel_w - 1 <= 31 keeps a run's inputs in
// the two loaded vectors.
constexpr int64_t run_width(int64_t kernel_w) { return (32 - kernel_w) / 2 + 1; }

// Lanes i < 16 with 0 <= col + i < width.
METALNN_S2_AVX512 inline __mmask16 lanes_inside(int64_t col, int64_t width) {
  const int64_t lo = std::clamp<int64_t>(-col, 0, 16), hi = std::clamp<int64_t>(width - col, 0, 16);
  return static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1));
}

struct Plane {
  const float* x;  // input plane
  const float* w;  // kernel_h x KW taps
  float bias;
  float* y;  // output plane
};

// Output rows one at a time in runs of up to run_width(KW) outputs. idx[kw] lane i = 2i + kw.
template <int KW>
METALNN_S2_AVX512 void rows_avx512(const Window2d& win, const Plane& p, const __m512i idx[KW], __m512 lo, __m512 hi) {
  const int64_t run = std::min(win.out_w, run_width(KW));
  for (int64_t oh = 0; oh < win.out_h; ++oh) {
    const int64_t ih = oh * 2 - win.pad_top;
    const int64_t kh0 = std::max<int64_t>(0, -ih), kh1 = std::min(win.kernel_h, win.in_h - ih);
    for (int64_t ow = 0; ow < win.out_w; ow += run) {
      const int64_t col = 2 * ow - win.pad_left;
      const __mmask16 ma = lanes_inside(col, win.in_w), mb = lanes_inside(col + 16, win.in_w);
      __m512 acc = _mm512_set1_ps(p.bias);
      for (int64_t kh = kh0; kh < kh1; ++kh) {
        const float* row = p.x + (ih + kh) * win.in_w + col;
        const __m512 a = _mm512_maskz_loadu_ps(ma, row), b = _mm512_maskz_loadu_ps(mb, row + 16);
        const float* w = p.w + kh * KW;
#pragma GCC unroll 8
        for (int kw = 0; kw < KW; ++kw)
          acc = _mm512_fmadd_ps(_mm512_set1_ps(w[kw]), _mm512_permutex2var_ps(a, idx[kw], b), acc);
      }
      const __mmask16 out = static_cast<__mmask16>((1u << std::min(run, win.out_w - ow)) - 1);
      _mm512_mask_storeu_ps(p.y + oh * win.out_w + ow, out, _mm512_min_ps(hi, _mm512_max_ps(lo, acc)));
    }
  }
}

// Output rows oh and oh + 1 of one plane together: each input row's permutes feed both rows'
// accumulators (5 input rows for 6 kernel rows at 3x3), two independent FMA chains. Measured 10-20%
// less time than a row at a time on 24- to 56-wide planes (one thread).
template <int KW>
METALNN_S2_AVX512 void row_pair_avx512(const Window2d& win, const Plane& p, const __m512i idx[KW], __m512 lo,
                                       __m512 hi, int64_t oh, int64_t run) {
  const int64_t ih = oh * 2 - win.pad_top;  // input row of row oh's kernel row 0; row oh + 1's is ih + 2
  const int64_t r0 = std::max<int64_t>(0, ih), r1 = std::min(win.in_h, ih + 2 + win.kernel_h);
  for (int64_t ow = 0; ow < win.out_w; ow += run) {
    const int64_t col = 2 * ow - win.pad_left;
    const __mmask16 ma = lanes_inside(col, win.in_w), mb = lanes_inside(col + 16, win.in_w);
    __m512 acc0 = _mm512_set1_ps(p.bias), acc1 = acc0;
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = p.x + r * win.in_w + col;
      const __m512 a = _mm512_maskz_loadu_ps(ma, row), b = _mm512_maskz_loadu_ps(mb, row + 16);
      const int64_t k0 = r - ih, k1 = k0 - 2;  // kernel rows of this input row for rows oh, oh + 1
      __m512 v[KW];
#pragma GCC unroll 8
      for (int kw = 0; kw < KW; ++kw) v[kw] = _mm512_permutex2var_ps(a, idx[kw], b);
      if (k0 < win.kernel_h) {
#pragma GCC unroll 8
        for (int kw = 0; kw < KW; ++kw) acc0 = _mm512_fmadd_ps(_mm512_set1_ps(p.w[k0 * KW + kw]), v[kw], acc0);
      }
      if (k1 >= 0) {
#pragma GCC unroll 8
        for (int kw = 0; kw < KW; ++kw) acc1 = _mm512_fmadd_ps(_mm512_set1_ps(p.w[k1 * KW + kw]), v[kw], acc1);
      }
    }
    const __mmask16 out = static_cast<__mmask16>((1u << std::min(run, win.out_w - ow)) - 1);
    float* y = p.y + oh * win.out_w + ow;
    _mm512_mask_storeu_ps(y, out, _mm512_min_ps(hi, _mm512_max_ps(lo, acc0)));
    _mm512_mask_storeu_ps(y + win.out_w, out, _mm512_min_ps(hi, _mm512_max_ps(lo, acc1)));
  }
}

// Planes [q0, q1) of the batch's output planes.
template <int KW>
METALNN_S2_AVX512 void planes_avx512(const float* x, const float* w, const float* bias, float* y, int64_t in_channels,
                                     int64_t multiplier, const Window2d& win, const Activation& act, int64_t q0,
                                     int64_t q1) {
  float lo_f, hi_f;
  const bool clamp = activation_as_clamp(act, lo_f, hi_f);
  const int64_t out_channels = in_channels * multiplier;
  const int64_t in_hw = win.in_size(), out_hw = win.out_size(), ksize = win.kernel_size();
  __m512i idx[KW];
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (int kw = 0; kw < KW; ++kw) idx[kw] = _mm512_add_epi32(even, _mm512_set1_epi32(kw));
  const __m512 lo = _mm512_set1_ps(lo_f), hi = _mm512_set1_ps(hi_f);
  const int64_t run = std::min(win.out_w, run_width(KW));
  for (int64_t q = q0; q < q1; ++q) {
    const int64_t n = q / out_channels, oc = q % out_channels;
    const Plane p{x + (n * in_channels + oc / multiplier) * in_hw, w + oc * ksize, bias ? bias[oc] : 0.f,
                  y + q * out_hw};
    int64_t oh = 0;
    for (; oh + 2 <= win.out_h; oh += 2) row_pair_avx512<KW>(win, p, idx, lo, hi, oh, run);
    if (oh < win.out_h) {
      Window2d last = win;  // the last row alone
      last.out_h = 1, last.pad_top = win.pad_top - 2 * oh;
      rows_avx512<KW>(last, Plane{p.x, p.w, p.bias, p.y + oh * win.out_w}, idx, lo, hi);
    }
    if (!clamp && !activate_avx512(p.y, out_hw, act)) apply_activation(p.y, out_hw, act);
  }
}

}  // namespace

void depthwise_stride2(const float* x, const float* w, const float* bias, float* y, int64_t batch,
                       int64_t in_channels, int64_t multiplier, const Window2d& win, const Activation& act,
                       ThreadPool& pool) {
  // Planes claimed a few at a time: a worker that wakes late finds them done, and the shared counter
  // is not touched for every small plane.
  const int64_t planes = batch * in_channels * multiplier;
  const int64_t chunk = std::max<int64_t>(1, planes / (pool.num_threads() * 8)), chunks = (planes + chunk - 1) / chunk;
  std::atomic<int64_t> next{0};
  pool.parallel_for(std::min<int64_t>(pool.num_threads(), chunks), 1, [&](int64_t, int64_t) {
    for (int64_t c = next++; c < chunks; c = next++)
      planes_avx512<3>(x, w, bias, y, in_channels, multiplier, win, act, c * chunk, std::min(planes, (c + 1) * chunk));
  });
}
#else
void depthwise_stride2(const float*, const float*, const float*, float*, int64_t, int64_t, int64_t, const Window2d&,
                       const Activation&, ThreadPool&) {}
#endif

}  // namespace metalnn::cpu
