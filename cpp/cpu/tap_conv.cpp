#include "cpu/tap_conv.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "cpu/epilogue.h"

namespace metalnn::cpu {

namespace {

// Outputs o in [0, count) whose tap at offset `at` (stride `step`, leading padding `pad`) reads
// inside [0, size).
IndexRange reach(int64_t at, int64_t pad, int64_t step, int64_t count, int64_t size) {
  return valid_range(at - pad, step, count, size);
}

// The share of im2col's products that read a real input (1: no padding).
double live_share(const Window2d& w) {
  double live = 0;
  for (int64_t i = 0; i < w.kernel_h; ++i)
    for (int64_t j = 0; j < w.kernel_w; ++j)
      live += double(reach(i * w.dilation_h, w.pad_top, w.stride_h, w.out_h, w.in_h).size()) *
              double(reach(j * w.dilation_w, w.pad_left, w.stride_w, w.out_w, w.in_w).size());
  return live / (double(w.kernel_size()) * double(w.out_size()));
}

}  // namespace

bool TapConv::suits(const Window2d& w) {
  if (w.kernel_size() == 1 || w.out_size() == 0) return false;
  return w.dilation_h > 1 || w.dilation_w > 1 || live_share(w) < 0.75;
}

TapConv::TapConv(const Tensor& weights, int64_t out_channels, int64_t in_channels, const Window2d& window,
                 GemmIsa isa)
    : win_(window), out_c_(out_channels), in_c_(in_channels) {
  const Window2d& w = win_;
  for (int64_t i = 0; i < w.kernel_h; ++i)
    for (int64_t j = 0; j < w.kernel_w; ++j) {
      const Tap t{i, j, reach(i * w.dilation_h, w.pad_top, w.stride_h, w.out_h, w.in_h),
                  reach(j * w.dilation_w, w.pad_left, w.stride_w, w.out_w, w.in_w)};
      if (t.rows.size() > 0 && t.cols.size() > 0) taps_.push_back(t);
    }
  // Each tap's weights gathered to [out, in] and packed; keyed by the window's live taps, shared
  // between shapes with the same ones.
  std::string how = "taps" + std::to_string(int(isa)) + "/" + std::to_string(w.kernel_h) + "x" + std::to_string(w.kernel_w);
  for (const Tap& t : taps_) how += "," + std::to_string(t.i * w.kernel_w + t.j);
  packed_ = packed_weights().get(weights, how, [&] {
    auto packed = std::make_shared<std::vector<PackedMatrix>>();
    const float* src = weights.data<float>();
    const int64_t ks = w.kernel_size();
    std::vector<float> tap(size_t(out_c_ * in_c_));
    for (const Tap& t : taps_) {
      for (int64_t o = 0; o < out_c_; ++o)
        for (int64_t c = 0; c < in_c_; ++c) tap[size_t(o * in_c_ + c)] = src[(o * in_c_ + c) * ks + t.i * w.kernel_w + t.j];
      packed->push_back(pack_left(tap.data(), in_c_, false, out_c_, in_c_, isa));
    }
    return std::shared_ptr<const std::vector<PackedMatrix>>(std::move(packed));
  });
}

void TapConv::run(const float* x, const float* bias, float* y, int64_t batch, const Activation& act,
                  ThreadPool& pool) const {
  const Window2d& w = win_;
  const int64_t out_hw = w.out_size(), in_hw = w.in_size();
  thread_local std::vector<float> gathered, partial;
  for (int64_t b = 0; b < batch; ++b) {
    const float* xb = x + b * in_c_ * in_hw;
    float* yb = y + b * out_c_ * out_hw;
    std::memset(yb, 0, size_t(out_c_ * out_hw) * sizeof(float));
    for (size_t ti = 0; ti < taps_.size(); ++ti) {
      const Tap& t = taps_[ti];
      const int64_t rows = t.rows.size(), cols = t.cols.size(), n = rows * cols;
      const int64_t ih0 = t.rows.lo * w.stride_h + t.i * w.dilation_h - w.pad_top;
      const int64_t iw0 = t.cols.lo * w.stride_w + t.j * w.dilation_w - w.pad_left;
      // The inputs this tap reads, [in][rows x cols]: the input itself when that is the whole map.
      const float* src = xb;
      int64_t ld = in_hw;
      const bool whole = w.stride_h == 1 && w.stride_w == 1 && rows == w.in_h && cols == w.in_w && ih0 == 0 && iw0 == 0;
      if (!whole) {
        gathered.resize(size_t(in_c_ * n));
        float* dst = gathered.data();
        pool.parallel_for(in_c_, std::max<int64_t>(1, 4096 / n), [&](int64_t c0, int64_t c1) {
          for (int64_t c = c0; c < c1; ++c)
            for (int64_t r = 0; r < rows; ++r) {
              const float* in = xb + c * in_hw + (ih0 + r * w.stride_h) * w.in_w + iw0;
              float* out = dst + c * n + r * cols;
              if (w.stride_w == 1) std::memcpy(out, in, size_t(cols) * sizeof(float));
              else for (int64_t q = 0; q < cols; ++q) out[q] = in[q * w.stride_w];
            }
        });
        src = gathered.data();
        ld = n;
      }
      const GemmOperand a{nullptr, in_c_, false, &(*packed_)[ti]};
      if (cols == w.out_w) {  // whole output rows: the rectangle is one run of y per channel
        gemm(&pool, out_c_, n, in_c_, 1.f, a, {src, ld, false, nullptr}, 1.f, yb + t.rows.lo * w.out_w, out_hw, {});
        continue;
      }
      partial.resize(size_t(out_c_ * n));
      gemm(&pool, out_c_, n, in_c_, 1.f, a, {src, ld, false, nullptr}, 0.f, partial.data(), n, {});
      const float* p = partial.data();
      pool.parallel_for(out_c_, std::max<int64_t>(1, 4096 / n), [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o)
          for (int64_t r = 0; r < rows; ++r) {
            float* out = yb + o * out_hw + (t.rows.lo + r) * w.out_w + t.cols.lo;
            const float* in = p + o * n + r * cols;
            for (int64_t q = 0; q < cols; ++q) out[q] += in[q];
          }
      });
    }
    bias_activation(yb, out_c_, out_hw, out_hw, bias, nullptr, act, pool);
  }
}

}  // namespace metalnn::cpu
