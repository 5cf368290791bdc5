// Two paths, and a third for 3-wide kernels at stride 2 with AVX-512 (depthwise_stride2.h). With AVX-512,
// most other 2-D convolutions run channel-blocked, 16 channels per vector (see
// channel_block_avx512 and depthwise_uses_blocks). Otherwise each task copies one input channel plane into a zero-padded
// scratch plane whose rows are split by column phase (column j of a padded row at j / stride_w in
// phase j % stride_w), so every tap of every output row is one contiguous run of that plane, in
// range: the rows run without bounds checks at any kernel size, stride, dilation and padding. With
// AVX2 (AVX-512) a block of output rows x 8-wide (16-wide) output vectors stays in registers over all
// taps (one weight broadcast feeds every accumulator); elsewhere each output row accumulates tap by
// tap over contiguous floats, which compilers vectorise.
#include "cpu/depthwise_conv.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <iterator>
#include <memory>
#include <vector>

#include "cpu/activation.h"
#include "cpu/activation_avx512.h"
#include "cpu/cpu_features.h"
#include "cpu/depthwise_stride2.h"
#include "cpu/simd_avx2.h"

namespace metalnn::cpu {

namespace {

constexpr int64_t kLanes = 8;  // outputs per AVX2 vector
constexpr int64_t kWideLanes = 16;  // outputs per AVX-512 vector; the plane is wide enough for whole ones
constexpr int64_t kBlockChannels = 16;  // channels per vector on the channel-blocked path
constexpr int64_t kMaxBlockedPixels = 160 * 160;  // padded plane size up to which that path runs

// METALNN_DEPTHWISE_KERNELS=avx512|avx2|portable caps the choice.
using DepthwiseIsa = KernelIsa;
DepthwiseIsa depthwise_isa() {
  static const DepthwiseIsa isa = kernel_isa("METALNN_DEPTHWISE_KERNELS");
  return isa;
}

// The padded, phase-split copy of one input plane and where each tap reads in it.
struct PhasePlane {
  int64_t stride, phase_len, pitch, height;
  std::vector<float> data;
  // taps[t] for t = kh * kernel_w + kw: offset of that tap's input for output (0, 0), in floats.
  std::vector<int64_t> taps;

  explicit PhasePlane(const Window2d& w) : stride(w.stride_w) {
    const int64_t padded_w = w.in_w + w.pad_left + w.pad_right;
    const int64_t vec_out = (w.out_w + kWideLanes - 1) / kWideLanes * kWideLanes;
    phase_len = std::max((padded_w + stride - 1) / stride,
                         vec_out + (w.kernel_w - 1) * w.dilation_w / stride);
    pitch = stride * phase_len;
    height = std::max(w.in_h + w.pad_top + w.pad_bottom,
                      (w.out_h - 1) * w.stride_h + (w.kernel_h - 1) * w.dilation_h + 1);
    data.assign(static_cast<size_t>(pitch * height), 0.f);
    for (int64_t kh = 0; kh < w.kernel_h; ++kh)
      for (int64_t kw = 0; kw < w.kernel_w; ++kw) {
        const int64_t col = kw * w.dilation_w;
        taps.push_back(kh * w.dilation_h * pitch + col % stride * phase_len + col / stride);
      }
  }
  // Copies `x` in; the margins stay zero from construction (they are never written).
  void fill(const float* x, const Window2d& w);
};

#ifdef METALNN_HAS_AVX2_KERNELS
// One phase: a plain copy, inline (short rows would spend more on calling memcpy than copying).
METALNN_AVX2 void fill_row_stride1(const float* src, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_loadu_ps(src + i));
  if (i < n) {
    const __m256i mask = first_lanes(n - i);
    _mm256_maskstore_ps(dst + i, mask, _mm256_maskload_ps(src + i, mask));
  }
}

// Two phases: 8 outputs at a time, de-interleaved by shuffles.
METALNN_AVX2 void fill_row_stride2(const float* src, int64_t n, float* from_even, float* from_odd) {
  int64_t i = 0;
  for (; 2 * i + 16 <= n; i += 8) {
    const __m256 a = _mm256_loadu_ps(src + 2 * i), b = _mm256_loadu_ps(src + 2 * i + 8);
    const __m256 evens = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    const __m256 odds = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    // The shuffles interleave the two 128-bit lanes' results: put them back in order.
    constexpr int kOrder = _MM_SHUFFLE(3, 1, 2, 0);
    _mm256_storeu_ps(from_even + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(evens), kOrder)));
    _mm256_storeu_ps(from_odd + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(odds), kOrder)));
  }
  for (; 2 * i + 1 < n; ++i) {
    from_even[i] = src[2 * i];
    from_odd[i] = src[2 * i + 1];
  }
  if (2 * i < n) from_even[i] = src[2 * i];
}
#endif

void PhasePlane::fill(const float* x, const Window2d& w) {
  const int64_t p = w.pad_left;
  for (int64_t h = 0; h < w.in_h; ++h) {
    const float* src = x + h * w.in_w;
    float* dst = data.data() + (h + w.pad_top) * pitch;
#ifdef METALNN_HAS_AVX2_KERNELS
    if (stride == 1 && depthwise_isa() != DepthwiseIsa::Portable) {
      fill_row_stride1(src, w.in_w, dst + p);
      continue;
    }
    if (stride == 2 && depthwise_isa() != DepthwiseIsa::Portable) {
      // x[2i] lands at padded column p + 2i, x[2i + 1] at p + 2i + 1.
      fill_row_stride2(src, w.in_w, dst + (p & 1) * phase_len + p / 2,
                       dst + ((p + 1) & 1) * phase_len + (p + 1) / 2);
      continue;
    }
#endif
    if (stride == 1) {
      std::memcpy(dst + p, src, static_cast<size_t>(w.in_w) * sizeof(float));
      continue;
    }
    for (int64_t iw = 0; iw < w.in_w; ++iw) {
      const int64_t col = p + iw;
      dst[col % stride * phase_len + col / stride] = src[iw];
    }
  }
}

bool same_window(const Window2d& a, const Window2d& b) {
  const int64_t x[] = {a.in_h,     a.in_w,       a.out_h,      a.out_w,   a.kernel_h,   a.kernel_w,   a.stride_h,
                       a.stride_w, a.dilation_h, a.dilation_w, a.pad_top, a.pad_left,   a.pad_bottom, a.pad_right};
  const int64_t y[] = {b.in_h,     b.in_w,       b.out_h,      b.out_w,   b.kernel_h,   b.kernel_w,   b.stride_h,
                       b.stride_w, b.dilation_h, b.dilation_w, b.pad_top, b.pad_left,   b.pad_bottom, b.pad_right};
  return std::equal(std::begin(x), std::end(x), std::begin(y));
}

// What the output rows of one channel need: its plane, weights, bias and clamp.
struct PlaneJob {
  const PhasePlane* in;
  const float* w;  // kernel_h * kernel_w taps
  float bias, lo, hi;
  int64_t in_row_step;  // floats between the inputs of consecutive output rows
  int64_t out_w, vectors, last_lanes;
  float* y;
};

#ifdef METALNN_HAS_AVX2_KERNELS
// Output rows [oh, oh + R) x vectors [v, v + V) of one channel; the taps run in the outer loop so
// each weight is broadcast once for R * V accumulators.
template <int R, int V>
METALNN_AVX2 void block_avx2(const PlaneJob& job, int64_t oh, int64_t v) {
  const float* base[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) base[r] = job.in->data.data() + (oh + r) * job.in_row_step + v * kLanes;
  __m256 acc[R][V];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < V; ++c) acc[r][c] = _mm256_set1_ps(job.bias);
  const int64_t* taps = job.in->taps.data();
  const float* w = job.w;
  const int64_t n = static_cast<int64_t>(job.in->taps.size());
  for (int64_t t = 0; t < n; ++t) {
    const __m256 k = _mm256_broadcast_ss(w + t);
    const int64_t off = taps[t];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
      for (int c = 0; c < V; ++c)
        acc[r][c] = _mm256_fmadd_ps(k, _mm256_loadu_ps(base[r] + off + c * kLanes), acc[r][c]);
  }
  const __m256 lo = _mm256_set1_ps(job.lo), hi = _mm256_set1_ps(job.hi);
  const bool partial = v + V == job.vectors && job.last_lanes < kLanes;
  const __m256i mask = first_lanes(job.last_lanes);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    float* out = job.y + (oh + r) * job.out_w + v * kLanes;
#pragma GCC unroll 8
    for (int c = 0; c < V; ++c) {
      const __m256 o = _mm256_min_ps(hi, _mm256_max_ps(lo, acc[r][c]));
      if (partial && c == V - 1) {
        _mm256_maskstore_ps(out + c * kLanes, mask, o);
      } else {
        _mm256_storeu_ps(out + c * kLanes, o);
      }
    }
  }
}

// Vectors [v0, vectors) of rows [oh, oh + R) in blocks of V vectors; the leftover ones (fewer than
// V) in one narrower block, so every block keeps as many independent accumulators as it can.
template <int R, int V>
METALNN_AVX2 void columns_avx2(const PlaneJob& job, int64_t oh, int64_t v0) {
  int64_t v = v0;
  for (; v + V <= job.vectors; v += V) block_avx2<R, V>(job, oh, v);
  if constexpr (V > 1) {
    if (v < job.vectors) columns_avx2<R, V - 1>(job, oh, v);
  }
}

// Rows [oh0, oh1) in blocks of R rows; the leftover ones (fewer than R) in one shorter block.
template <int R, int V>
METALNN_AVX2 void rows_avx2(const PlaneJob& job, int64_t oh0, int64_t oh1) {
  int64_t oh = oh0;
  for (; oh + R <= oh1; oh += R) columns_avx2<R, V>(job, oh, 0);
  if constexpr (R > 1) {
    if (oh < oh1) rows_avx2<R - 1, V>(job, oh, oh1);
  }
}

// Eight accumulators per block, shaped to the plane (measured): rows of 8 vectors for wide maps and
// 1-D convs, 2 rows x 4 vectors, 4 x 2, and 8 rows of one vector for maps at most 8 wide.
METALNN_AVX2 void plane_avx2(const PlaneJob& job, int64_t out_h) {
  if (out_h == 1 || job.vectors >= 7) {
    rows_avx2<1, 8>(job, 0, out_h);
  } else if (job.vectors >= 4) {
    rows_avx2<2, 4>(job, 0, out_h);
  } else if (job.vectors >= 2) {
    rows_avx2<4, 2>(job, 0, out_h);
  } else {
    rows_avx2<8, 1>(job, 0, out_h);
  }
}
#endif

#ifdef METALNN_HAS_AVX2_KERNELS
#define METALNN_DW_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma")))
#define METALNN_DW_AVX512_INLINE __attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma"), always_inline)) inline

// Channel-blocked path (AVX-512): 16 output channels share each vector, so a plane narrower than a
// vector still fills every lane, the tap offsets are the same for every block and stride and
// dilation only change addresses. Each block's inputs are transposed to [pixel][16 channels] in a
// zero-padded scratch, its outputs computed there and transposed back, through the activation when
// it is not a clamp (the clamps are applied as each block is stored).
constexpr int64_t kBlock = kBlockChannels;

// r[i] lane j <-> r[j] lane i.
METALNN_DW_AVX512_INLINE void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // u[4i + j], 128-bit lane k: column 4k + j of rows 4i .. 4i + 3.
  for (int i = 0; i < 4; ++i) {
    u[4 * i + 0] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int j = 0; j < 4; ++j) {
    t[j] = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);
    t[4 + j] = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);
    t[8 + j] = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
    t[12 + j] = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
  }
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
    r[4 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0x88);
    r[12 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0xDD);
  }
}

// Floats [p, p + n) of 16 rows (nullptr rows read as zeros), n <= 16, as n vectors of 16 rows in r.
METALNN_DW_AVX512_INLINE void load_transposed(const float* const rows[kBlock], int64_t p, int64_t n,
                                              __m512 r[kBlock]) {
  const __mmask16 mask = static_cast<__mmask16>((1u << n) - 1);
  for (int64_t c = 0; c < kBlock; ++c) r[c] = rows[c] ? _mm512_maskz_loadu_ps(mask, rows[c] + p) : _mm512_setzero_ps();
  transpose16(r);
}

// What one block of channels runs on: the padded input scratch [padded_h][padded_w][16], the taps
// [kernel_size][16], the bias and the output scratch [out_size rounded up to 16][16].
struct BlockJob {
  const Window2d* win;
  int64_t padded_w;
  const float* in;
  const float* w;
  __m512 bias;
  float lo, hi;
  float* out;
};

// Outputs [ow, ow + J) of rows [oh, oh + R): R x J accumulators over the kernel rows that reach
// the input for some of these rows (the others read only zero padding). S is the column stride
// when it is 1 or 2 (the loads then sit at fixed offsets, leaving registers free), else 0 (job.win's).
// KW, when not 0, is the kernel width at stride 1 and column dilation 1: a row's KW weights then stay
// in registers and each input vector is loaded once for every accumulator it feeds.
template <int R, int J, int S, int KW>
METALNN_DW_AVX512 void block_avx512(const BlockJob& job, int64_t oh, int64_t ow) {
  const Window2d& win = *job.win;
  __m512 acc[R][J];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int j = 0; j < J; ++j) acc[r][j] = job.bias;
  const int64_t step = (S ? S : win.stride_w) * kBlock, row_step = win.stride_h * job.padded_w * kBlock;
  // Padded row oh * stride_h + kh * dilation_h is input when it lies in [pad_top, pad_top + in_h).
  const int64_t first = oh * win.stride_h, last = (oh + R - 1) * win.stride_h;
  const int64_t kh0 = std::max<int64_t>(0, (win.pad_top - last + win.dilation_h - 1) / win.dilation_h);
  const int64_t kh1 =
      std::min(win.kernel_h, (win.pad_top + win.in_h - first + win.dilation_h - 1) / win.dilation_h);
  const float* w = job.w + kh0 * win.kernel_w * kBlock;
  for (int64_t kh = kh0; kh < kh1; ++kh) {
    const float* src = job.in + ((first + kh * win.dilation_h) * job.padded_w + ow * step / kBlock) * kBlock;
    if constexpr (KW > 0) {
      __m512 k[KW];
#pragma GCC unroll 8
      for (int kw = 0; kw < KW; ++kw) k[kw] = _mm512_loadu_ps(w + kw * kBlock);
      w += KW * kBlock;
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 24
        for (int i = 0; i < J + KW - 1; ++i) {
          const __m512 x = _mm512_load_ps(src + r * row_step + i * kBlock);
#pragma GCC unroll 8
          for (int kw = 0; kw < KW; ++kw)
            if (i - kw >= 0 && i - kw < J) acc[r][i - kw] = _mm512_fmadd_ps(k[kw], x, acc[r][i - kw]);
        }
    } else {
      for (int64_t kw = 0; kw < win.kernel_w; ++kw, w += kBlock, src += win.dilation_w * kBlock) {
        const __m512 k = _mm512_loadu_ps(w);  // blocked weights may sit off a cache line
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
          for (int j = 0; j < J; ++j)
            acc[r][j] = _mm512_fmadd_ps(k, _mm512_load_ps(src + r * row_step + j * step), acc[r][j]);
      }
    }
  }
  const __m512 lo = _mm512_set1_ps(job.lo), hi = _mm512_set1_ps(job.hi);
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    float* out = job.out + ((oh + r) * win.out_w + ow) * kBlock;
#pragma GCC unroll 16
    for (int j = 0; j < J; ++j) _mm512_store_ps(out + j * kBlock, _mm512_min_ps(hi, _mm512_max_ps(lo, acc[r][j])));
  }
}

// Outputs [ow, out_w) of rows [oh, oh + R) in blocks of J, the leftover ones in one narrower block.
template <int R, int J, int S, int KW>
METALNN_DW_AVX512 void columns_avx512(const BlockJob& job, int64_t oh, int64_t ow) {
  for (; ow + J <= job.win->out_w; ow += J) block_avx512<R, J, S, KW>(job, oh, ow);
  if constexpr (J > 1) {
    if (ow < job.win->out_w) columns_avx512<R, J - 1, S, KW>(job, oh, ow);
  }
}

// Every output row in blocks of R rows x J columns, the last row alone when R does not divide them.
template <int R, int J, int S, int KW>
METALNN_DW_AVX512 void rows_avx512(const BlockJob& job) {
  int64_t oh = 0;
  for (; oh + R <= job.win->out_h; oh += R) columns_avx512<R, J, S, KW>(job, oh, 0);
  for (; oh < job.win->out_h; ++oh) columns_avx512<1, J, S, KW>(job, oh, 0);
}

// About 14 accumulators of the 32 vector registers: rows of 14 outputs, or two rows of up to 7.
template <int S, int KW>
METALNN_DW_AVX512 void plane_avx512(const BlockJob& job) {
  if (job.win->out_w <= 7) {
    rows_avx512<2, 7, S, KW>(job);
  } else {
    rows_avx512<1, 14, S, KW>(job);
  }
}

// The per-plane kernel with 16-float vectors: block_avx2's loop, twice the outputs per load and FMA.
template <int R, int V>
METALNN_DW_AVX512 void plane_block_avx512(const PlaneJob& job, int64_t oh, int64_t v) {
  const float* base[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) base[r] = job.in->data.data() + (oh + r) * job.in_row_step + v * kWideLanes;
  __m512 acc[R][V];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < V; ++c) acc[r][c] = _mm512_set1_ps(job.bias);
  const int64_t* taps = job.in->taps.data();
  const int64_t n = static_cast<int64_t>(job.in->taps.size());
  for (int64_t t = 0; t < n; ++t) {
    const __m512 k = _mm512_set1_ps(job.w[t]);
    const int64_t off = taps[t];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
      for (int c = 0; c < V; ++c)
        acc[r][c] = _mm512_fmadd_ps(k, _mm512_loadu_ps(base[r] + off + c * kWideLanes), acc[r][c]);
  }
  const __m512 lo = _mm512_set1_ps(job.lo), hi = _mm512_set1_ps(job.hi);
  const bool partial = v + V == job.vectors && job.last_lanes < kWideLanes;
  const __mmask16 mask = static_cast<__mmask16>((1u << job.last_lanes) - 1);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    float* out = job.y + (oh + r) * job.out_w + v * kWideLanes;
#pragma GCC unroll 8
    for (int c = 0; c < V; ++c) {
      const __m512 o = _mm512_min_ps(hi, _mm512_max_ps(lo, acc[r][c]));
      if (partial && c == V - 1) {
        _mm512_mask_storeu_ps(out + c * kWideLanes, mask, o);
      } else {
        _mm512_storeu_ps(out + c * kWideLanes, o);
      }
    }
  }
}

template <int R, int V>
METALNN_DW_AVX512 void plane_columns_avx512(const PlaneJob& job, int64_t oh, int64_t v) {
  for (; v + V <= job.vectors; v += V) plane_block_avx512<R, V>(job, oh, v);
  if constexpr (V > 1) {
    if (v < job.vectors) plane_columns_avx512<R, V - 1>(job, oh, v);
  }
}

template <int R, int V>
METALNN_DW_AVX512 void plane_rows_avx512(const PlaneJob& job, int64_t out_h) {
  int64_t oh = 0;
  for (; oh + R <= out_h; oh += R) plane_columns_avx512<R, V>(job, oh, 0);
  for (; oh < out_h; ++oh) plane_columns_avx512<1, V>(job, oh, 0);
}

// Block shapes as plane_avx2's, in 16-float vectors.
METALNN_DW_AVX512 void plane_avx512(const PlaneJob& job, int64_t out_h) {
  if (out_h == 1 || job.vectors >= 7) {
    plane_rows_avx512<1, 8>(job, out_h);
  } else if (job.vectors >= 4) {
    plane_rows_avx512<2, 4>(job, out_h);
  } else if (job.vectors >= 2) {
    plane_rows_avx512<4, 2>(job, out_h);
  } else {
    plane_rows_avx512<8, 1>(job, out_h);
  }
}

// Taps [0, ksize) of channels [c0, c0 + channels) as ksize vectors (the rest zero) at `taps`, which
// has room for ksize rounded up to 16.
METALNN_DW_AVX512 void transpose_taps(const float* w, int64_t c0, int64_t channels, int64_t ksize, float* taps) {
  const float* src[kBlock];
  for (int64_t c = 0; c < kBlock; ++c) src[c] = c < channels ? w + (c0 + c) * ksize : nullptr;
  for (int64_t t = 0; t < ksize; t += kBlock) {
    __m512 r[kBlock];
    load_transposed(src, t, std::min(kBlock, ksize - t), r);
    // All 16: a variable count would become a copy through the stack.
    for (int64_t i = 0; i < kBlock; ++i) _mm512_store_ps(taps + (t + i) * kBlock, r[i]);
  }
}

// The output scratch [pixels][16] back to `channels` planes of out_hw floats from y, 16 pixels at a
// time, each transposed vector through op on its way out.
template <class Op>
METALNN_DW_AVX512 void store_planes(const float* out, float* y, int64_t out_hw, int64_t channels, Op op) {
  for (int64_t p = 0; p < out_hw; p += kBlock) {
    const int64_t pixels = std::min(kBlock, out_hw - p);
    const __mmask16 mask = static_cast<__mmask16>((1u << pixels) - 1);
    __m512 r[kBlock];
    for (int64_t i = 0; i < kBlock; ++i) r[i] = _mm512_loadu_ps(out + (p + i) * kBlock);
    transpose16(r);
    for (int64_t c = 0; c < channels; ++c) _mm512_mask_storeu_ps(y + c * out_hw + p, mask, op(r[c]));
  }
}

struct StorePlanes {
  const float* out;
  float* y;
  int64_t out_hw, channels;
  template <class Op>
  METALNN_DW_AVX512 void operator()(Op op) const { store_planes(out, y, out_hw, channels, op); }
};

// store_planes through `act` where with_activation_avx512 has it; false, storing plain sums, where
// the activation is left to apply_activation (clamps are applied by the block kernels).
METALNN_DW_AVX512 bool store_planes(const float* out, float* y, int64_t out_hw, int64_t channels,
                                    const Activation& act, bool clamp) {
  if (with_activation_avx512(act, StorePlanes{out, y, out_hw, channels})) return true;
  store_planes(out, y, out_hw, channels, IdentityOp512{});
  return clamp;
}

// The channel-blocked convolution of output channels [c0, c0 + 16) (fewer at the end) of image n;
// false when `act` is left to apply_activation.
METALNN_DW_AVX512 bool channel_block_avx512(const float* x, const float* w, const float* bias, float* y,
                                            int64_t n, int64_t c0, int64_t in_channels, int64_t multiplier,
                                            const Window2d& win, const Activation& act, bool clamp, float lo, float hi,
                                            int64_t padded_w,
                                            const float* blocked_w, float* padded, float* taps_scratch, float* out) {
  const int64_t out_channels = in_channels * multiplier, channels = std::min(kBlock, out_channels - c0);
  const int64_t in_hw = win.in_size(), out_hw = win.out_size(), ksize = win.kernel_size();
  const float* src[kBlock];
  for (int64_t c = 0; c < kBlock; ++c)
    src[c] = c < channels ? x + (n * in_channels + (c0 + c) / multiplier) * in_hw : nullptr;
  // Inputs, 16 pixels of the flat plane at a time, each pixel to its padded row and column.
  int64_t h = 0, col = 0;
  for (int64_t p = 0; p < in_hw; p += kBlock) {
    const int64_t pixels = std::min(kBlock, in_hw - p);
    __m512 r[kBlock];
    load_transposed(src, p, pixels, r);
    for (int64_t i = 0; i < pixels; ++i) {
      _mm512_store_ps(padded + ((h + win.pad_top) * padded_w + col + win.pad_left) * kBlock, r[i]);
      if (++col == win.in_w) col = 0, ++h;
    }
  }
  const float* taps;
  if (blocked_w) {
    taps = blocked_w + c0 * ksize;
  } else {
    transpose_taps(w, c0, channels, ksize, taps_scratch);
    taps = taps_scratch;
  }
  alignas(64) float b[kBlock] = {};
  for (int64_t c = 0; c < channels; ++c) b[c] = bias ? bias[c0 + c] : 0.f;
  const BlockJob job{&win, padded_w, padded, taps, _mm512_load_ps(b), lo, hi, out};
  const bool slide = win.stride_w == 1 && win.dilation_w == 1;
  if (slide && win.kernel_w == 3) {
    plane_avx512<1, 3>(job);
  } else if (slide && win.kernel_w == 5) {
    plane_avx512<1, 5>(job);
  } else if (slide && win.kernel_w == 7) {
    plane_avx512<1, 7>(job);
  } else if (win.stride_w == 1) {
    plane_avx512<1, 0>(job);
  } else if (win.stride_w == 2) {
    plane_avx512<2, 0>(job);
  } else {
    plane_avx512<0, 0>(job);
  }
  return store_planes(out, y + (n * out_channels + c0) * out_hw, out_hw, channels, act, clamp);
}

void depthwise_channel_blocks(const float* x, const float* w, const float* bias, float* y, int64_t batch,
                              int64_t in_channels, int64_t multiplier, const Window2d& win, const Activation& act,
                              ThreadPool& pool, const float* blocked_w) {
  float lo, hi;
  const bool clamp = activation_as_clamp(act, lo, hi);
  const int64_t out_channels = in_channels * multiplier, blocks = (out_channels + kBlock - 1) / kBlock;
  const int64_t padded_h = std::max(win.in_h + win.pad_top + win.pad_bottom,
                                    (win.out_h - 1) * win.stride_h + (win.kernel_h - 1) * win.dilation_h + 1);
  const int64_t padded_w = std::max(win.in_w + win.pad_left + win.pad_right,
                                    (win.out_w - 1) * win.stride_w + (win.kernel_w - 1) * win.dilation_w + 1);
  const int64_t out_pixels = (win.out_size() + kBlock - 1) / kBlock * kBlock;
  // One chunk per thread, each claiming blocks until none are left: a worker that wakes late (on a
  // busy machine) finds them done rather than holding up the call with its static share.
  const int64_t tasks = batch * blocks;
  std::atomic<int64_t> next{0};
  pool.parallel_for(std::min<int64_t>(pool.num_threads(), tasks), 1, [&](int64_t, int64_t) {
    // Per thread, kept between runs: one allocation, each part on a cache line (a vector load across
    // two lines costs two). The padding margins are never written, so they are zeroed only when the
    // geometry changes.
    const int64_t padded_floats = padded_h * padded_w * kBlock;
    const int64_t tap_floats = (win.kernel_size() + kBlock - 1) / kBlock * kBlock * kBlock;
    const size_t floats = static_cast<size_t>(padded_floats + tap_floats + out_pixels * kBlock + kBlock);
    thread_local std::vector<float> scratch;
    thread_local int64_t geometry[6] = {};
    const int64_t now[6] = {padded_h, padded_w, win.in_h, win.in_w, win.pad_top, win.pad_left};
    if (scratch.size() < floats || !std::equal(now, now + 6, geometry)) {
      scratch.assign(std::max(floats, scratch.size()), 0.f);
      std::copy(now, now + 6, geometry);
    }
    float* padded = scratch.data() + (kBlock - reinterpret_cast<uintptr_t>(scratch.data()) / sizeof(float) % kBlock);
    float* taps = padded + padded_floats;
    float* out = taps + tap_floats;
    for (int64_t t = next++; t < tasks; t = next++) {
      const int64_t n = t / blocks, c0 = t % blocks * kBlock;
      if (!channel_block_avx512(x, w, bias, y, n, c0, in_channels, multiplier, win, act, clamp, lo, hi, padded_w,
                                blocked_w, padded, taps, out))
        for (int64_t c = c0; c < std::min(out_channels, c0 + kBlock); ++c)
          apply_activation(y + (n * out_channels + c) * win.out_size(), win.out_size(), act);
    }
  });
}
#endif

// One output row, tap by tap over contiguous floats.
void row_portable(const PlaneJob& job, int64_t oh) {
  float* out = job.y + oh * job.out_w;
  const float* in = job.in->data.data() + oh * job.in_row_step;
  const int64_t n = static_cast<int64_t>(job.in->taps.size()), out_w = job.out_w;
  for (int64_t ow = 0; ow < out_w; ++ow) out[ow] = job.bias;
  for (int64_t t = 0; t < n; ++t) {
    const float k = job.w[t];
    const float* src = in + job.in->taps[t];
    for (int64_t ow = 0; ow < out_w; ++ow) out[ow] += k * src[ow];
  }
  for (int64_t ow = 0; ow < out_w; ++ow) out[ow] = std::min(job.hi, std::max(job.lo, out[ow]));
}

// Vectors as wide as the kernel plane() runs: 16 floats with AVX-512, else 8.
int64_t plane_lanes() { return depthwise_isa() == DepthwiseIsa::Avx512 ? kWideLanes : kLanes; }

// The plane's outputs, then the activation if it is not a clamp (the kernels apply those).
void plane(const PlaneJob& job, int64_t out_h, bool clamp, const Activation& act) {
#ifdef METALNN_HAS_AVX2_KERNELS
  if (depthwise_isa() == DepthwiseIsa::Avx512) {
    plane_avx512(job, out_h);
    if (!clamp && !activate_avx512(job.y, out_h * job.out_w, act)) apply_activation(job.y, out_h * job.out_w, act);
    return;
  }
  if (depthwise_isa() != DepthwiseIsa::Portable) {
    plane_avx2(job, out_h);
  } else
#endif
  {
    for (int64_t oh = 0; oh < out_h; ++oh) row_portable(job, oh);
  }
  if (!clamp) apply_activation(job.y, out_h * job.out_w, act);
}

}  // namespace

bool depthwise_uses_blocks(const Window2d& win, int64_t multiplier) {
  // Measured: at multiplier 1, planes up to 32 wide and any with at least 25 taps (wider ones with
  // fewer spend as much on the transposes as the full vectors save); at higher multipliers, where the
  // per-plane kernel reads each input plane once for all its outputs, only planes narrower than its
  // vectors. Each thread keeps its padded scratch (64 bytes a pixel), so planes beyond about 1.5 MiB
  // of it stay per plane.
  const int64_t padded_h = win.in_h + win.pad_top + win.pad_bottom, padded_w = win.in_w + win.pad_left + win.pad_right;
  const bool suits = multiplier == 1 ? win.out_w <= 32 || win.kernel_size() >= 25 : win.out_w <= 16;
  return depthwise_isa() == DepthwiseIsa::Avx512 && win.in_h > 1 && suits && padded_h * padded_w <= kMaxBlockedPixels &&
         !depthwise_stride2_suits(win, true);
}

std::vector<float> depthwise_blocked_weights(const float* w, int64_t out_channels, int64_t kernel_size) {
  const int64_t blocks = (out_channels + kBlockChannels - 1) / kBlockChannels;
  std::vector<float> blocked(static_cast<size_t>(blocks * kernel_size * kBlockChannels), 0.f);
  for (int64_t c = 0; c < out_channels; ++c)
    for (int64_t t = 0; t < kernel_size; ++t)
      blocked[static_cast<size_t>((c / kBlockChannels * kernel_size + t) * kBlockChannels + c % kBlockChannels)] =
          w[c * kernel_size + t];
  return blocked;
}

void depthwise_conv2d(const float* x, const float* w, const float* bias, float* y, int64_t batch, int64_t in_channels,
                      int64_t multiplier, const Window2d& win, const Activation& act, ThreadPool& pool,
                      const float* blocked_w) {
#ifdef METALNN_HAS_AVX2_KERNELS
  if (depthwise_stride2_suits(win, depthwise_isa() == DepthwiseIsa::Avx512)) {
    depthwise_stride2(x, w, bias, y, batch, in_channels, multiplier, win, act, pool);
    return;
  }
  if (depthwise_uses_blocks(win, multiplier)) {
    depthwise_channel_blocks(x, w, bias, y, batch, in_channels, multiplier, win, act, pool, blocked_w);
    return;
  }
#else
  (void)blocked_w;  // only the channel-blocked path reads it
#endif
  float lo, hi;
  const bool clamp = activation_as_clamp(act, lo, hi);
  const int64_t out_channels = in_channels * multiplier;
  // Planes claimed one at a time, as in depthwise_channel_blocks.
  const int64_t planes = batch * in_channels;
  std::atomic<int64_t> next{0};
  pool.parallel_for(std::min<int64_t>(pool.num_threads(), planes), 1, [&](int64_t, int64_t) {
    // Per thread, kept between calls of the same geometry (a fused block calls once per chunk of
    // channels): the margins are zeroed only when it changes.
    thread_local std::unique_ptr<PhasePlane> kept;
    thread_local Window2d kept_win{};
    if (!kept || !same_window(kept_win, win)) {
      kept = std::make_unique<PhasePlane>(win);
      kept_win = win;
    }
    PhasePlane& padded = *kept;
    const int64_t lanes = plane_lanes();
    PlaneJob job{&padded, nullptr, 0.f, lo, hi, win.stride_h * padded.pitch, win.out_w,
                 (win.out_w + lanes - 1) / lanes, win.out_w - (win.out_w - 1) / lanes * lanes, nullptr};
    for (int64_t p = next++; p < planes; p = next++) {
      padded.fill(x + p * win.in_size(), win);
      const int64_t n = p / in_channels, c_in = p % in_channels;
      for (int64_t j = 0; j < multiplier; ++j) {
        const int64_t c = c_in * multiplier + j;
        job.w = w + c * win.kernel_size();
        job.bias = bias ? bias[c] : 0.f;
        job.y = y + (n * out_channels + c) * win.out_size();
        plane(job, win.out_h, clamp, act);
      }
    }
  });
}

}  // namespace metalnn::cpu
