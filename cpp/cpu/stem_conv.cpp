#include "cpu/stem_conv.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/ops/window.h"

#include "cpu/activation.h"
#include "cpu/cpu_features.h"
#include "cpu/pool_rows.h"
#include "cpu/simd_avx2.h"

namespace metalnn::cpu {

namespace {

constexpr int64_t kMaxInputChannels = 4;
constexpr int64_t kBlock = 8;       // output channels per packed weight block
constexpr int64_t kBandRows = 8;    // output rows per task
constexpr int64_t kReadSlack = 32;  // floats a tile may read past a buffer row's last phase

// METALNN_STEM_KERNELS=avx512|avx2|portable caps the choice; there is no portable stem kernel, so
// portable means the im2col GEMM.
using StemIsa = KernelIsa;
StemIsa stem_isa() {
  static const StemIsa isa = kernel_isa("METALNN_STEM_KERNELS");
  return isa;
}

#ifdef METALNN_HAS_AVX2_KERNELS
#define METALNN_STEM_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma")))

// Outputs [0, rows) x [0, cols) of one tile, rows <= 8, 16 < cols <= 16 V (or cols <= 16 for V = 1):
// in points at the buffer position of output column 0, w at the block's weights [tap][8], y at output
// (channel 0, column 0), channel planes `plane` floats apart. Without Upper, hi is +inf (ReLU, none).
template <int V, bool Upper>
METALNN_STEM_AVX512 void tile_avx512(const float* in, const int64_t* taps, int64_t ntaps, const float* w,
                                     const float* bias, float* y, int64_t plane, int64_t rows, int64_t cols,
                                     float lo, float hi) {
  __m512 acc[kBlock][V];
#pragma GCC unroll 8
  for (int r = 0; r < kBlock; ++r) {
    const __m512 b = _mm512_set1_ps(bias ? bias[std::min<int64_t>(r, rows - 1)] : 0.f);
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[r][v] = b;
  }
  for (int64_t t = 0; t < ntaps; ++t, w += kBlock) {
    const float* p = in + taps[t];
    __m512 x[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) x[v] = _mm512_loadu_ps(p + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < kBlock; ++r) {
      const __m512 a = _mm512_set1_ps(w[r]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(a, x[v], acc[r][v]);
    }
  }
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  const int64_t tail = cols - 16 * (V - 1);  // columns of the last vector, 1..16
  const __mmask16 mask = static_cast<__mmask16>((1u << tail) - 1u);
#pragma GCC unroll 8
  for (int r = 0; r < kBlock; ++r) {
    if (r >= rows) break;
    float* out = y + r * plane;
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      __m512 c = _mm512_max_ps(vlo, acc[r][v]);
      if (Upper) c = _mm512_min_ps(vhi, c);
      if (v < V - 1 || tail == 16) _mm512_storeu_ps(out + 16 * v, c);
      else _mm512_mask_storeu_ps(out + 16 * v, mask, c);
    }
  }
}

// One output row of every channel block, 32 columns per tile (up to 48 in the last).
template <bool Upper>
METALNN_STEM_AVX512 void row_avx512(const float* in, const int64_t* taps, int64_t ntaps, const float* packed,
                                    const float* bias, float* y, int64_t plane, int64_t out_c, int64_t out_w,
                                    float lo, float hi) {
  for (int64_t o = 0; o < out_c; o += kBlock) {
    const float* w = packed + o * ntaps;
    const float* b = bias ? bias + o : nullptr;
    const int64_t rows = std::min(kBlock, out_c - o);
    for (int64_t ow = 0; ow < out_w;) {
      // A row's last 33..48 columns in one tile of three vectors: a one-vector tile of 8 accumulators
      // waits on its FMAs' latency.
      const int64_t left = out_w - ow, cols = left > 32 && left <= 48 ? left : std::min<int64_t>(32, left);
      float* out = y + o * plane + ow;
      if (cols > 32) tile_avx512<3, Upper>(in + ow, taps, ntaps, w, b, out, plane, rows, cols, lo, hi);
      else if (cols > 16) tile_avx512<2, Upper>(in + ow, taps, ntaps, w, b, out, plane, rows, cols, lo, hi);
      else tile_avx512<1, Upper>(in + ow, taps, ntaps, w, b, out, plane, rows, cols, lo, hi);
      ow += cols;
    }
  }
}

// The AVX2 tile: 4 of a block's 8 channels (w already offset to them) x up to 24 columns.
METALNN_AVX2 void tile_avx2(const float* in, const int64_t* taps, int64_t ntaps, const float* w, const float* bias,
                            float* y, int64_t plane, int64_t rows, int64_t cols, __m256 lo, __m256 hi) {
  constexpr int R = 4, V = 3;
  __m256 acc[R][V];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    const __m256 b = _mm256_set1_ps(bias ? bias[std::min<int64_t>(r, rows - 1)] : 0.f);
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[r][v] = b;
  }
  for (int64_t t = 0; t < ntaps; ++t, w += kBlock) {
    const float* p = in + taps[t];
    __m256 x[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) x[v] = _mm256_loadu_ps(p + 8 * v);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 a = _mm256_broadcast_ss(w + r);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm256_fmadd_ps(a, x[v], acc[r][v]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    if (r >= rows) break;
    float* out = y + r * plane;
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      const int64_t n = cols - 8 * v;
      if (n <= 0) break;
      const __m256 c = _mm256_min_ps(hi, _mm256_max_ps(lo, acc[r][v]));
      if (n >= 8) _mm256_storeu_ps(out + 8 * v, c);
      else _mm256_maskstore_ps(out + 8 * v, first_lanes(n), c);
    }
  }
}

METALNN_AVX2 void row_avx2(const float* in, const int64_t* taps, int64_t ntaps, const float* packed,
                           const float* bias, float* y, int64_t plane, int64_t out_c, int64_t out_w, float lo,
                           float hi) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  for (int64_t o = 0; o < out_c; o += 4) {
    const float* w = packed + o / kBlock * kBlock * ntaps + o % kBlock;
    const float* b = bias ? bias + o : nullptr;
    const int64_t rows = std::min<int64_t>(4, out_c - o);
    for (int64_t ow = 0; ow < out_w; ow += 24)
      tile_avx2(in + ow, taps, ntaps, w, b, y + o * plane + ow, plane, rows, std::min<int64_t>(24, out_w - ow), vlo,
                vhi);
  }
}

// dst[m] = src[2m] for m < n (src readable to 2n).
METALNN_AVX2 void even_floats_avx2(const float* src, int64_t n, float* dst) {
  int64_t m = 0;
  for (; m + 8 <= n; m += 8) _mm256_storeu_ps(dst + m, load_strided<2>(src + 2 * m));
  for (; m < n; ++m) dst[m] = src[2 * m];
}

// The same, 16 floats a step (one permute of two vectors), the tail under masks.
METALNN_STEM_AVX512 void even_floats_avx512(const float* src, int64_t n, float* dst) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (int64_t m = 0; m < n; m += 16) {
    const int64_t left = n - m;
    if (left >= 16) {
      _mm512_storeu_ps(dst + m, _mm512_permutex2var_ps(_mm512_loadu_ps(src + 2 * m), even,
                                                       _mm512_loadu_ps(src + 2 * m + 16)));
      continue;
    }
    // Floats [0, 2 left) of the source: the first vector's lanes, then the second's.
    const int64_t floats = 2 * left;
    const __mmask16 lo = static_cast<__mmask16>(floats >= 16 ? 0xffffu : (1u << floats) - 1u);
    const __mmask16 hi = static_cast<__mmask16>(floats > 16 ? (1u << (floats - 16)) - 1u : 0u);
    const __m512 v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(lo, src + 2 * m), even,
                                            _mm512_maskz_loadu_ps(hi, src + 2 * m + 16));
    _mm512_mask_storeu_ps(dst + m, static_cast<__mmask16>((1u << left) - 1u), v);
  }
}
#endif

}  // namespace

bool StemConv::suits(const Window2d& w, int64_t in_channels, int64_t groups) {
  return stem_isa() != StemIsa::Portable && groups == 1 && in_channels <= kMaxInputChannels && w.stride_h == 2 &&
         w.stride_w == 2 && w.kernel_h >= 3 && w.kernel_w >= 3;
}

StemConv::StemConv(const Tensor& weights, int64_t out_channels, int64_t in_channels, const Window2d& window)
    : win_(window), out_c_(out_channels), in_c_(in_channels) {
  const Window2d& w = win_;
  const int64_t max_col = (w.kernel_w - 1) * w.dilation_w / w.stride_w;
  phase_len_ = (w.out_w + max_col + 15) / 16 * 16;
  row_pitch_ = w.stride_w * phase_len_;
  const int64_t band_in_rows = (kBandRows - 1) * w.stride_h + (w.kernel_h - 1) * w.dilation_h + 1;
  const int64_t channel_pitch = band_in_rows * row_pitch_;
  for (int64_t c = 0; c < in_c_; ++c)
    for (int64_t i = 0; i < w.kernel_h; ++i)
      for (int64_t j = 0; j < w.kernel_w; ++j) {
        const int64_t col = j * w.dilation_w;
        taps_.push_back(c * channel_pitch + i * w.dilation_h * row_pitch_ + col % w.stride_w * phase_len_ +
                        col / w.stride_w);
      }
  const int64_t ntaps = static_cast<int64_t>(taps_.size()), blocks = (out_c_ + kBlock - 1) / kBlock;
  packed_.assign(static_cast<size_t>(blocks * ntaps * kBlock), 0.f);
  const float* src = weights.data<float>();
  for (int64_t o = 0; o < out_c_; ++o)
    for (int64_t t = 0; t < ntaps; ++t) packed_[size_t((o / kBlock * ntaps + t) * kBlock + o % kBlock)] = src[o * ntaps + t];
}

void StemConv::fill(const float* x, int64_t oh0, int64_t oh1, std::vector<float>& buf) const {
  const Window2d& w = win_;
  const int64_t band_in_rows = (kBandRows - 1) * w.stride_h + (w.kernel_h - 1) * w.dilation_h + 1;
  const int64_t rows = (oh1 - oh0 - 1) * w.stride_h + (w.kernel_h - 1) * w.dilation_h + 1;
  buf.resize(static_cast<size_t>(in_c_ * band_in_rows * row_pitch_ + kReadSlack));
  // Buffer row r of channel c: padded input row oh0 * stride_h + r, phase q holding padded columns q, q + S, ...
  for (int64_t c = 0; c < in_c_; ++c)
    for (int64_t r = 0; r < rows; ++r) {
      float* dst = buf.data() + (c * band_in_rows + r) * row_pitch_;
      const int64_t ih = oh0 * w.stride_h + r - w.pad_top;
      if (ih < 0 || ih >= w.in_h) {
        std::fill(dst, dst + row_pitch_, 0.f);
        continue;
      }
      const float* src = x + (c * w.in_h + ih) * w.in_w;
      for (int64_t q = 0; q < w.stride_w; ++q, dst += phase_len_) {
        // Phase entry m holds input column m * S + q - pad_left when that lies inside the row.
        const IndexRange in = valid_range(q - w.pad_left, w.stride_w, phase_len_, w.in_w);
        std::fill(dst, dst + in.lo, 0.f);
        std::fill(dst + in.hi, dst + phase_len_, 0.f);
        const float* s = src + in.lo * w.stride_w + q - w.pad_left;
        const int64_t n = in.size();
        if (w.stride_w == 1) {
          std::memcpy(dst + in.lo, s, static_cast<size_t>(n) * sizeof(float));
          continue;
        }
#ifdef METALNN_HAS_AVX2_KERNELS
        if (w.stride_w == 2) {
          // The last pair may end past the row (column 2n - 1 of s): keep it out of the vector loop.
          if (stem_isa() == StemIsa::Avx512) even_floats_avx512(s, n - 1, dst + in.lo);
          else even_floats_avx2(s, n - 1, dst + in.lo);
          if (n > 0) dst[in.hi - 1] = s[2 * (n - 1)];
          continue;
        }
#endif
        for (int64_t m = 0; m < n; ++m) dst[in.lo + m] = s[m * w.stride_w];
      }
    }
}

void StemConv::compute(const float* in, const float* bias, float* y, int64_t plane, int64_t nrows, int64_t o0,
                       int64_t o1, const Epilogue& e) const {
  const Window2d& w = win_;
  const float lo = e.lo, hi = e.hi;
  const int64_t ntaps = static_cast<int64_t>(taps_.size());
  // o0 is a multiple of kBlock: the blocks from it on start at its packed weights.
  const float* packed = packed_.data() + o0 * ntaps;
  const float* b = bias ? bias + o0 : nullptr;
  for (int64_t i = 0; i < nrows; ++i, in += w.stride_h * row_pitch_) {
    float* out = y + o0 * plane + i * w.out_w;
#ifdef METALNN_HAS_AVX2_KERNELS
    if (stem_isa() == StemIsa::Avx512 && hi == std::numeric_limits<float>::infinity())
      row_avx512<false>(in, taps_.data(), ntaps, packed, b, out, plane, o1 - o0, w.out_w, lo, hi);
    else if (stem_isa() == StemIsa::Avx512)
      row_avx512<true>(in, taps_.data(), ntaps, packed, b, out, plane, o1 - o0, w.out_w, lo, hi);
    else
      row_avx2(in, taps_.data(), ntaps, packed, b, out, plane, o1 - o0, w.out_w, lo, hi);
#endif
    if (!e.exact)
      for (int64_t o = 0; o < o1 - o0; ++o) apply_activation(out + o * plane, w.out_w, e.act);
  }
}

bool StemConv::fuse_max_pool(const Window2d& pool) {
  if (!pool_rows_avx2() || pool.in_h != win_.out_h || pool.in_w != win_.out_w || pool.stride_w != 2 ||
      pool.dilation_w != 1 || pool.kernel_w > kMaxStride2Taps || pool.kernel_h > kMaxStride2Taps)
    return false;
  pool_ = pool;
  pooled_ = true;
  return true;
}

bool StemConv::fuse_max_pool(const Graph& g, const Node& pool) {
  if (pool.op_type != "MaxPool" || pool.inputs.size() != 1 || pool.outputs.empty() || pool.outputs[0] < 0 ||
      (pool.outputs.size() > 1 && pool.outputs[1] >= 0))
    return false;
  const Value& x = g.value(pool.inputs[0]);
  if (x.dtype != DType::Float32 || x.shape.size() != 4) return false;
  return fuse_max_pool(to_window2d(resolve_window(pool, std::vector<int64_t>(x.shape.begin() + 2, x.shape.end()),
                                                  pool.attrs.get_ints("kernel_shape"),
                                                  pool.attrs.get_int("ceil_mode", 0) != 0)));
}

void StemConv::pooled_band(const float* x, const float* bias, float* y, int64_t ph0, int64_t ph1,
                           const Epilogue& e) const {
  const Window2d& p = pool_;
  // Rows ph reads lie within `span` consecutive convolution rows; a ring one stride longer keeps them.
  const int64_t span = (p.kernel_h - 1) * p.dilation_h + 1, ring = span + p.stride_h, plane = ring * win_.out_w;
  thread_local std::vector<float> buf, rows_buf, row;  // per worker, kept between runs
  rows_buf.resize(static_cast<size_t>(out_c_ * plane));
  row.resize(static_cast<size_t>(pool_row_floats(p.out_w)));
  const float* rows[kMaxStride2Taps];
  // Convolution rows [r0, r1) of channels [o0, o1) into the ring (row r of channel o at o * plane +
  // r % ring * out_w), the buffer filled from row b0 on.
  const auto compute_rows = [&](int64_t b0, int64_t r0, int64_t r1, int64_t o0, int64_t o1) {
    for (int64_t r = r0; r < r1; ++r)
      compute(buf.data() + (r - b0) * win_.stride_h * row_pitch_, bias, rows_buf.data() + r % ring * win_.out_w, plane,
              1, o0, o1, e);
  };
  int64_t next = 0;  // the first convolution row not yet computed
  for (int64_t ph = ph0; ph < ph1; ++ph) {
    const int64_t h0 = ph * p.stride_h - p.pad_top;
    const IndexRange kh = valid_range(h0, p.dilation_h, p.kernel_h, p.in_h);
    int64_t r0 = next, r1 = next;  // the rows this pooled row needs first
    if (kh.size() > 0) {
      r0 = std::max(next, h0 + kh.lo * p.dilation_h);
      r1 = h0 + (kh.hi - 1) * p.dilation_h + 1;
      next = std::max(next, r1);
    }
    // Usually one buffer fill serves the new rows, and each block of channels is pooled right after
    // its rows are made, while they are in L1; more rows than a band holds are made first, in bands.
    const bool interleave = r1 - r0 <= kBandRows;
    if (interleave && r1 > r0) fill(x, r0, r1, buf);
    for (int64_t c0 = r0; !interleave && c0 < r1; c0 += kBandRows) {
      const int64_t c1 = std::min(r1, c0 + kBandRows);
      fill(x, c0, c1, buf);
      compute_rows(c0, c0, c1, 0, out_c_);
    }
    for (int64_t o0 = 0; o0 < out_c_; o0 += kBlock) {
      const int64_t o1 = std::min(out_c_, o0 + kBlock);
      if (interleave) compute_rows(r0, r0, r1, o0, o1);
      for (int64_t o = o0; o < o1; ++o) {
        for (int64_t i = kh.lo; i < kh.hi; ++i)
          rows[i - kh.lo] = rows_buf.data() + o * plane + (h0 + i * p.dilation_h) % ring * win_.out_w;
        pool_row_s2<true>(rows, kh.size(), p.pad_left, p.in_w, p.kernel_w, p.out_w, row.data(),
                          y + o * p.out_size() + ph * p.out_w);
      }
    }
  }
}

void StemConv::run(const float* x, const float* bias, float* y, int64_t batch, const Activation& act,
                   ThreadPool& pool) const {
  Epilogue e{act, 0.f, 0.f, false};
  e.exact = activation_as_clamp(act, e.lo, e.hi);
  if (pooled_) {
    // Bands of pooled rows, enough for the threads' chunks to end near the same place; a chunk runs
    // its bands of one image as one, so only the rows two chunks share are made twice.
    const int64_t per_image = std::clamp<int64_t>((4 * pool.num_threads() + batch - 1) / batch, 1, pool_.out_h);
    const int64_t rows = (pool_.out_h + per_image - 1) / per_image, bands = (pool_.out_h + rows - 1) / rows;
    pool.parallel_for(batch * bands, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1;) {
        const int64_t b = t / bands, end = std::min(t1, (b + 1) * bands);
        const int64_t ph0 = t % bands * rows, ph1 = std::min(pool_.out_h, (end - b * bands) * rows);
        pooled_band(x + b * in_c_ * win_.in_size(), bias, y + b * out_c_ * pool_.out_size(), ph0, ph1, e);
        t = end;
      }
    });
    return;
  }
  const int64_t bands = (win_.out_h + kBandRows - 1) / kBandRows;
  pool.parallel_for(batch * bands, 1, [&](int64_t t0, int64_t t1) {
    thread_local std::vector<float> buf;  // per worker, kept between runs
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / bands, oh0 = t % bands * kBandRows, oh1 = std::min(win_.out_h, oh0 + kBandRows);
      fill(x + b * in_c_ * win_.in_size(), oh0, oh1, buf);
      compute(buf.data(), bias, y + b * out_c_ * win_.out_size() + oh0 * win_.out_w, win_.out_size(), oh1 - oh0, 0, out_c_,
              e);
    }
  });
}

void StemConv::rows(const float* x, const float* bias, float* y, int64_t plane, int64_t oh0, int64_t oh1,
                    const Activation& act) const {
  Epilogue e{act, 0.f, 0.f, false};
  e.exact = activation_as_clamp(act, e.lo, e.hi);
  thread_local std::vector<float> buf;
  for (int64_t r0 = oh0; r0 < oh1; r0 += kBandRows) {
    const int64_t r1 = std::min(oh1, r0 + kBandRows);
    fill(x, r0, r1, buf);
    compute(buf.data(), bias, y + (r0 - oh0) * win_.out_w, plane, r1 - r0, 0, out_c_, e);
  }
}

}  // namespace metalnn::cpu
