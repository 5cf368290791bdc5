#include "cpu/phase_planes.h"

#include <algorithm>
#include <cstring>

#include "cpu/qgemm.h"

namespace metalnn::cpu {

PhasePlanes::PhasePlanes(const Window2d& w, int64_t channels) : win_(w), channels_(channels) {
  // The widest tap offset within a phase, past the last output row and column.
  height_ = w.out_h + (w.kernel_h - 1) * w.dilation_h / w.stride_h;
  width_ = w.out_w + (w.kernel_w - 1) * w.dilation_w / w.stride_w;
  plane_ = height_ * width_;
  columns_ = (w.out_h - 1) * width_ + w.out_w;
  std::vector<bool> used(size_t(w.stride_h * w.stride_w), false);
  for (int64_t i = 0; i < w.kernel_h; ++i)
    for (int64_t j = 0; j < w.kernel_w; ++j)
      used[size_t((i * w.dilation_h % w.stride_h) * w.stride_w + j * w.dilation_w % w.stride_w)] = true;
  for (size_t p = 0; p < used.size(); ++p)
    if (used[p]) phases_.push_back(int64_t(p));
}

int64_t PhasePlanes::tap_offset(int64_t c, int64_t i, int64_t j) const {
  const int64_t y = i * win_.dilation_h, x = j * win_.dilation_w;
  const int64_t phase = (y % win_.stride_h) * win_.stride_w + x % win_.stride_w;
  const int64_t index = std::find(phases_.begin(), phases_.end(), phase) - phases_.begin();
  return (index * channels_ + c) * plane_ + (y / win_.stride_h) * width_ + x / win_.stride_w;
}

void PhasePlanes::fill(const uint8_t* x, uint8_t pad, uint8_t* planes, ThreadPool& pool) const {
  const Window2d& w = win_;
  const int64_t tasks = int64_t(phases_.size()) * channels_;
  claim_tasks(pool, tasks, false, [&](int64_t t) {
    const int64_t phase = phases_[size_t(t / channels_)], c = t % channels_;
    const int64_t py = phase / w.stride_w, px = phase % w.stride_w;
    const uint8_t* src = x + c * w.in_h * w.in_w;
    uint8_t* dst = planes + t * plane_;
    // Columns u of a phase row read input column u * stride_w + px - pad_left: valid for u in [lo, hi).
    const IndexRange cols = valid_range(px - w.pad_left, w.stride_w, width_, w.in_w);
    for (int64_t r = 0; r < height_; ++r) {
      uint8_t* row = dst + r * width_;
      const int64_t ih = r * w.stride_h + py - w.pad_top;
      if (ih < 0 || ih >= w.in_h || cols.size() == 0) {
        std::memset(row, pad, size_t(width_));
        continue;
      }
      std::memset(row, pad, size_t(cols.lo));
      const uint8_t* in = src + ih * w.in_w + cols.lo * w.stride_w + px - w.pad_left;  // column cols.lo
      if (w.stride_w == 1) {
        std::memcpy(row + cols.lo, in, size_t(cols.size()));
      } else {
        for (int64_t u = 0; u < cols.size(); ++u) row[cols.lo + u] = in[u * w.stride_w];
      }
      std::memset(row + cols.hi, pad, size_t(width_ - cols.hi));
    }
  });
}

}  // namespace metalnn::cpu
