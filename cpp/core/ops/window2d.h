// A resolved 2-D sliding window in the form the conv and pool kernels of every device loop over; 1-D windows
// become 2-D ones of height 1 so one kernel serves both.
#pragma once
#include <algorithm>
#include <cstdint>

#include "core/ops/window.h"

namespace metalnn {

struct Window2d {
  int64_t in_h, in_w, out_h, out_w;
  int64_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
  int64_t pad_top, pad_left, pad_bottom, pad_right;
  int64_t in_size() const { return in_h * in_w; }
  int64_t out_size() const { return out_h * out_w; }
  int64_t kernel_size() const { return kernel_h * kernel_w; }
};

inline Window2d to_window2d(const Window& w) {
  if (w.spatial() == 1)
    return {1, w.in[0], 1, w.out[0], 1, w.kernel[0], 1, w.stride[0], 1, w.dilation[0], 0, w.pad_begin[0], 0, w.pad_end[0]};
  return {w.in[0],       w.in[1],       w.out[0],       w.out[1],       w.kernel[0],    w.kernel[1],  w.stride[0],
          w.stride[1],   w.dilation[0], w.dilation[1],  w.pad_begin[0], w.pad_begin[1], w.pad_end[0], w.pad_end[1]};
}

// Floor division for any signs of a, with b > 0.
inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// The range [lo, hi) of t in [0, count) for which offset + t * step lies in [0, size); step > 0.
struct IndexRange {
  int64_t lo, hi;
  int64_t size() const { return hi > lo ? hi - lo : 0; }
};
inline IndexRange valid_range(int64_t offset, int64_t step, int64_t count, int64_t size) {
  int64_t lo = std::clamp<int64_t>(floor_div(-offset + step - 1, step), 0, count);
  int64_t hi = std::min<int64_t>(count, floor_div(size - 1 - offset, step) + 1);
  return {lo, std::max(lo, hi)};
}

}  // namespace metalnn
