// MaxPool / AveragePool (1-D and 2-D through Window2d) and GlobalAveragePool / GlobalMaxPool on the
// CPU, NCHW float32 (MaxPool int8 and uint8 too); one channel plane per task. MaxPool, and AveragePool
// with stride 2 along rows, run separably (rows, then columns).
#include <algorithm>
#include <cstdlib>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "core/ops/window.h"
#include "cpu/cpu_features.h"
#include "cpu/kernel.h"
#include "cpu/pool_rows.h"
#include "cpu/simd_avx2.h"
#include "core/ops/window2d.h"

namespace metalnn::cpu {

namespace {

// Floats a MaxPool row buffer holds past its last output's window, for whole-vector reads.
constexpr int64_t kRowSlack = 16;

#ifdef METALNN_HAS_AVX2_KERNELS
// r[c] = max(r[c], src[c]) for c < n.
METALNN_AVX2 void max_into_avx2(float* r, const float* src, int64_t n) {
  int64_t c = 0;
  for (; c + 8 <= n; c += 8) _mm256_storeu_ps(r + c, _mm256_max_ps(_mm256_loadu_ps(src + c), _mm256_loadu_ps(r + c)));
  if (c < n) {
    const __m256i m = first_lanes(n - c);
    _mm256_maskstore_ps(r + c, m, _mm256_max_ps(_mm256_maskload_ps(src + c, m), _mm256_maskload_ps(r + c, m)));
  }
}

// out[ow] = max over taps j of row[ow * S + j * dilation]; the row is readable kRowSlack floats past
// the last window, and lanes past out_w are never stored.
template <int S>
METALNN_AVX2 void max_taps_avx2(const float* row, int64_t taps, int64_t dilation, int64_t out_w, float* out) {
  for (int64_t ow = 0; ow < out_w; ow += 8) {
    const float* p = row + ow * S;
    __m256 acc = load_strided<S>(p);
    for (int64_t j = 1; j < taps; ++j) acc = _mm256_max_ps(load_strided<S>(p + j * dilation), acc);
    if (ow + 8 <= out_w) {
      _mm256_storeu_ps(out + ow, acc);
    } else {
      _mm256_maskstore_ps(out + ow, first_lanes(out_w - ow), acc);
    }
  }
}

// r[c] = max(r[c], src[c]) for c < n, bytes signed or not.
template <bool Signed>
METALNN_AVX2_INLINE __m256i max_bytes32(const uint8_t* r, const uint8_t* src) {
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r));
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
  return Signed ? _mm256_max_epi8(a, b) : _mm256_max_epu8(a, b);
}

template <bool Signed>
METALNN_AVX2 void max_bytes_avx2(uint8_t* r, const uint8_t* src, int64_t n) {
  if (n >= 32) {
    // The last vector overlaps the one before (a max taken twice is the same max); it is read before
    // the loop's stores, as a load straddling a store still in flight would wait for it.
    const __m256i last = max_bytes32<Signed>(r + n - 32, src + n - 32);
    for (int64_t c = 0; c + 32 <= n; c += 32)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(r + c), max_bytes32<Signed>(r + c, src + c));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(r + n - 32), last);
    return;
  }
  for (int64_t c = 0; c < n; ++c)
    r[c] = Signed ? uint8_t(std::max(int8_t(r[c]), int8_t(src[c]))) : std::max(r[c], src[c]);
}

// even[m] = row[2m], odd[m] = row[2m + 1] for m < count rounded up to 32 (row readable that far).
METALNN_AVX2 void split_bytes2_avx2(const uint8_t* row, int64_t count, uint8_t* even, uint8_t* odd) {
  const __m256i low = _mm256_set1_epi16(0x00FF);
  for (int64_t m = 0; m < count; m += 32) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * m));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * m + 32));
    // packus works per 128-bit lane; the permute puts the four quarters back in order.
    const __m256i e = _mm256_packus_epi16(_mm256_and_si256(a, low), _mm256_and_si256(b, low));
    const __m256i o = _mm256_packus_epi16(_mm256_srli_epi16(a, 8), _mm256_srli_epi16(b, 8));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(even + m), _mm256_permute4x64_epi64(e, 0xD8));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(odd + m), _mm256_permute4x64_epi64(o, 0xD8));
  }
}
#endif

class PoolKernel : public Kernel {
 public:
  PoolKernel(const Graph& g, const Node& n) {
    const Shape& x = g.value(n.inputs[0]).shape;
    win_ = to_window2d(resolve_window(n, std::vector<int64_t>(x.begin() + 2, x.end()), n.attrs.get_ints("kernel_shape"),
                                      n.attrs.get_int("ceil_mode", 0) != 0));
    max_ = n.op_type == "MaxPool";
    count_include_pad_ = n.attrs.get_int("count_include_pad", 0) != 0;
#ifdef METALNN_HAS_AVX2_KERNELS
    const Window2d& w = win_;
    stride2_rows_ = pool_rows_avx2() && w.stride_w == 2 && w.dilation_w == 1 && w.kernel_w <= kMaxStride2Taps &&
                    w.kernel_h <= kMaxStride2Taps;
    if (stride2_rows_ && !max_) {
      col_scale_.assign(static_cast<size_t>((w.out_w + 15) / 16 * 16), 0.f);
      for (int64_t ow = 0; ow < w.out_w; ++ow) {
        const int64_t n = col_taps(ow);
        col_scale_[static_cast<size_t>(ow)] = n ? 1.f / static_cast<float>(n) : 0.f;
      }
    }
#endif
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    if (in[0]->dtype() == DType::UInt8) return run_bytes<uint8_t>(*in[0], *out[0], pool);
    if (in[0]->dtype() == DType::Int8) return run_bytes<int8_t>(*in[0], *out[0], pool);
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    const int64_t planes = in[0]->dim(0) * in[0]->dim(1);
    pool.parallel_for(planes, 1, [&](int64_t p0, int64_t p1) {
      std::vector<float> row;  // max_plane's scratch, one per task
      for (int64_t p = p0; p < p1; ++p) {
        if (max_) {
          max_plane(x + p * win_.in_size(), y + p * win_.out_size(), row);
#ifdef METALNN_HAS_AVX2_KERNELS
        } else if (stride2_rows_) {
          plane_stride2<false>(x + p * win_.in_size(), y + p * win_.out_size(), row);
#endif
        } else {
          plane(x + p * win_.in_size(), y + p * win_.out_size());
        }
      }
    });
  }

 private:
  // MaxPool of bytes, separably as max_plane does: rows padded with the dtype's lowest value, strided
  // taps read column phases of the row, every step a max over contiguous bytes.
  template <typename T>
  void run_bytes(const Tensor& x, Tensor& y, ThreadPool& pool) const {
    const Window2d& w = win_;
    const uint8_t* src = static_cast<const uint8_t*>(x.raw());
    uint8_t* dst = static_cast<uint8_t*>(y.raw());
    const uint8_t lowest = uint8_t(std::numeric_limits<T>::lowest());
    const int64_t sw = w.stride_w;
    const int64_t width = std::max(w.pad_left + w.in_w, (w.out_w - 1) * sw + (w.kernel_w - 1) * w.dilation_w + 1);
    const int64_t phase_w = (width + sw - 1) / sw;
    // The stride-2 split moves whole 32-byte vectors: phase rows and the row it reads rounded up.
    const int64_t phase_stride = (phase_w + 31) / 32 * 32;
    pool.parallel_for(x.dim(0) * x.dim(1), 1, [&](int64_t p0, int64_t p1) {
      std::vector<uint8_t> row(size_t(phase_stride * sw), lowest), phases(size_t(phase_stride * sw), lowest);
      uint8_t* r = row.data() + w.pad_left;  // r[c] holds input column c
      for (int64_t p = p0; p < p1; ++p) {
        const uint8_t* plane = src + p * w.in_size();
        uint8_t* out_plane = dst + p * w.out_size();
        for (int64_t oh = 0; oh < w.out_h; ++oh) {
          const int64_t h0 = oh * w.stride_h - w.pad_top;
          const IndexRange kh = valid_range(h0, w.dilation_h, w.kernel_h, w.in_h);
          std::fill(r, r + w.in_w, lowest);
          for (int64_t i = kh.lo; i < kh.hi; ++i) max_bytes<T>(r, plane + (h0 + i * w.dilation_h) * w.in_w, w.in_w);
          // Column phase q of the padded row: phases[q * phase_stride + m] = row[m * sw + q].
          const uint8_t* cols = row.data();
          if (sw > 1) {
            cols = phases.data();
#ifdef METALNN_HAS_AVX2_KERNELS
            if (sw == 2 && pool_rows_avx2()) {
              split_bytes2_avx2(row.data(), phase_w, phases.data(), phases.data() + phase_stride);
            } else
#endif
            {
              for (int64_t q = 0; q < sw; ++q)
                for (int64_t m = 0; m < phase_w; ++m) phases[size_t(q * phase_stride + m)] = row[size_t(m * sw + q)];
            }
          }
          uint8_t* out = out_plane + oh * w.out_w;
          for (int64_t j = 0; j < w.kernel_w; ++j) {
            const int64_t at = j * w.dilation_w;
            const uint8_t* tap = sw > 1 ? cols + (at % sw) * phase_stride + at / sw : cols + at;
            if (j == 0) std::copy(tap, tap + w.out_w, out);
            else max_bytes<T>(out, tap, w.out_w);
          }
        }
      }
    });
  }

  template <typename T>
  static void max_bytes(uint8_t* r, const uint8_t* src, int64_t n) {
    constexpr bool is_signed = std::is_signed_v<T>;
#ifdef METALNN_HAS_AVX2_KERNELS
    if (pool_rows_avx2()) return max_bytes_avx2<is_signed>(r, src, n);
#endif
    for (int64_t c = 0; c < n; ++c)
      r[c] = is_signed ? uint8_t(std::max(int8_t(r[c]), int8_t(src[c]))) : std::max(r[c], src[c]);
  }

  // MaxPool separably: each output row first takes the max over its window's input rows into a
  // -inf-padded row (contiguous, vectorised), then over the horizontal taps of that row.
  void max_plane(const float* x, float* y, std::vector<float>& row) const {
    const Window2d& w = win_;
#ifdef METALNN_HAS_AVX2_KERNELS
    if (stride2_rows_) return plane_stride2<true>(x, y, row);
#endif
    const int64_t out_w_vec = (w.out_w + 7) / 8 * 8;
    const int64_t width = std::max(w.pad_left + w.in_w, out_w_vec * w.stride_w + (w.kernel_w - 1) * w.dilation_w) + kRowSlack;
    row.assign(static_cast<size_t>(width), -std::numeric_limits<float>::infinity());
    float* r = row.data() + w.pad_left;  // r[c] holds input column c
#ifdef METALNN_HAS_AVX2_KERNELS
    const bool avx2 = pool_rows_avx2() && (w.stride_w == 1 || w.stride_w == 2);
#endif
    for (int64_t oh = 0; oh < w.out_h; ++oh) {
      const int64_t h0 = oh * w.stride_h - w.pad_top;
      const IndexRange kh = valid_range(h0, w.dilation_h, w.kernel_h, w.in_h);
      std::fill(r, r + w.in_w, -std::numeric_limits<float>::infinity());
      float* out = y + oh * w.out_w;
#ifdef METALNN_HAS_AVX2_KERNELS
      if (avx2) {
        for (int64_t i = kh.lo; i < kh.hi; ++i) max_into_avx2(r, x + (h0 + i * w.dilation_h) * w.in_w, w.in_w);
        if (w.stride_w == 1) max_taps_avx2<1>(row.data(), w.kernel_w, w.dilation_w, w.out_w, out);
        else max_taps_avx2<2>(row.data(), w.kernel_w, w.dilation_w, w.out_w, out);
        continue;
      }
#endif
      for (int64_t i = kh.lo; i < kh.hi; ++i) {
        const float* src = x + (h0 + i * w.dilation_h) * w.in_w;
        for (int64_t c = 0; c < w.in_w; ++c) r[c] = std::max(r[c], src[c]);
      }
      for (int64_t ow = 0; ow < w.out_w; ++ow) out[ow] = row[ow * w.stride_w];
      for (int64_t j = 1; j < w.kernel_w; ++j) {
        const float* tap = row.data() + j * w.dilation_w;
        for (int64_t ow = 0; ow < w.out_w; ++ow) out[ow] = std::max(out[ow], tap[ow * w.stride_w]);
      }
    }
  }

#ifdef METALNN_HAS_AVX2_KERNELS
  // Either pool with stride 2 along rows (stride2_rows_): per output row, the max or sum over its input
  // rows, then over the taps along the row.
  template <bool Max>
  void plane_stride2(const float* x, float* y, std::vector<float>& row) const {
    const Window2d& w = win_;
    row.resize(static_cast<size_t>(pool_row_floats(w.out_w)));
    const float* rows[kMaxStride2Taps];
    for (int64_t oh = 0; oh < w.out_h; ++oh) {
      const int64_t h0 = oh * w.stride_h - w.pad_top;
      const IndexRange kh = valid_range(h0, w.dilation_h, w.kernel_h, w.in_h);
      for (int64_t i = kh.lo; i < kh.hi; ++i) rows[i - kh.lo] = x + (h0 + i * w.dilation_h) * w.in_w;
      const int64_t n = Max ? 1 : row_taps(oh);
      pool_row_s2<Max>(rows, kh.size(), w.pad_left, w.in_w, w.kernel_w, w.out_w, row.data(), y + oh * w.out_w,
                       n ? 1.f / static_cast<float>(n) : 0.f, col_scale_.data());
    }
  }
#endif

  // The taps of row oh's (column ow's) windows an average divides by: those inside the input, or with
  // count_include_pad inside the padded input (the ceil-mode overhang never counts).
  int64_t row_taps(int64_t oh) const {
    const Window2d& w = win_;
    const int64_t h0 = oh * w.stride_h - w.pad_top;
    return count_include_pad_ ? valid_range(h0 + w.pad_top, w.dilation_h, w.kernel_h, w.in_h + w.pad_top + w.pad_bottom).size()
                              : valid_range(h0, w.dilation_h, w.kernel_h, w.in_h).size();
  }
  int64_t col_taps(int64_t ow) const {
    const Window2d& w = win_;
    const int64_t w0 = ow * w.stride_w - w.pad_left;
    return count_include_pad_ ? valid_range(w0 + w.pad_left, w.dilation_w, w.kernel_w, w.in_w + w.pad_left + w.pad_right).size()
                              : valid_range(w0, w.dilation_w, w.kernel_w, w.in_w).size();
  }

  void plane(const float* x, float* y) const {
    const Window2d& w = win_;
    for (int64_t oh = 0; oh < w.out_h; ++oh) {
      const int64_t h0 = oh * w.stride_h - w.pad_top;
      const IndexRange kh = valid_range(h0, w.dilation_h, w.kernel_h, w.in_h);
      for (int64_t ow = 0; ow < w.out_w; ++ow) {
        const int64_t w0 = ow * w.stride_w - w.pad_left;
        const IndexRange kw = valid_range(w0, w.dilation_w, w.kernel_w, w.in_w);
        float acc = max_ ? -std::numeric_limits<float>::infinity() : 0.f;
        for (int64_t i = kh.lo; i < kh.hi; ++i) {
          const float* row = x + (h0 + i * w.dilation_h) * w.in_w;
          if (max_) {
            for (int64_t j = kw.lo; j < kw.hi; ++j) acc = std::max(acc, row[w0 + j * w.dilation_w]);
          } else {
            for (int64_t j = kw.lo; j < kw.hi; ++j) acc += row[w0 + j * w.dilation_w];
          }
        }
        if (!max_) {
          const int64_t count = row_taps(oh) * col_taps(ow);
          acc = count > 0 ? acc / static_cast<float>(count) : 0.f;
        }
        y[oh * w.out_w + ow] = acc;
      }
    }
  }

  Window2d win_{};
  bool max_ = true, count_include_pad_ = false;
  bool stride2_rows_ = false;     // plane_stride2 runs the plane
  std::vector<float> col_scale_;  // AveragePool on plane_stride2: 1 / col_taps(ow), vectors' worth
};

class GlobalPoolKernel : public Kernel {
 public:
  explicit GlobalPoolKernel(const Node& n) : max_(n.op_type == "GlobalMaxPool") {}

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    const int64_t planes = in[0]->dim(0) * in[0]->dim(1);
    const int64_t size = planes ? in[0]->numel() / planes : 0;
    pool.parallel_for(planes, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, size)), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) y[p] = max_ ? plane_max(x + p * size, size) : plane_mean(x + p * size, size);
    });
  }

 private:
  // Eight independent partial sums so the compiler can vectorise without reassociating.
  static float plane_mean(const float* x, int64_t n) {
    float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; ++j) part[j] += x[i + j];
    float sum = 0.f;
    for (; i < n; ++i) sum += x[i];
    for (float p : part) sum += p;
    return n ? sum / static_cast<float>(n) : 0.f;
  }
  static float plane_max(const float* x, int64_t n) {
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);
    return m;
  }

  bool max_;
};

}  // namespace

std::unique_ptr<Kernel> make_pool_kernel(const Graph& g, const Node& n) { return std::make_unique<PoolKernel>(g, n); }
std::unique_ptr<Kernel> make_global_pool_kernel(const Graph&, const Node& n) {
  return std::make_unique<GlobalPoolKernel>(n);
}

}  // namespace metalnn::cpu
