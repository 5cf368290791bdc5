// Grouped convolution with narrow groups (a few to 64 input channels each, not depthwise), NCHW
// float32, any kernel size, stride, dilation and padding, with bias and fused activation. One GEMM
// per group would have 8-row, 72-deep matrices here and leave most vector lanes idle; this kernel
// instead vectorises over output pixels and keeps a block of the group's output channels in
// registers, reading the group's zero-padded, stride-phase-split input rows from a scratch.
#pragma once
#include <cstdint>
#include <vector>

#include "core/activation.h"
#include "core/ops/window2d.h"
#include "cpu/thread_pool.h"

namespace metalnn::cpu {

class GroupedConv {
 public:
  // Whether this kernel runs a conv of `groups` groups over these channels: group > 1, not depthwise,
  // at most 64 input channels per group, and not 1x1 stride 1 unpadded.
  static bool suits(const Window2d& win, int64_t groups, int64_t in_channels, int64_t out_channels);

  // constant_w, if not nullptr, is the weight [out_channels, in_channels / groups, kh, kw], blocked
  // here once; otherwise run() blocks the weights it is given on every call.
  GroupedConv(const Window2d& win, int64_t groups, int64_t in_channels, int64_t out_channels,
              const float* constant_w);

  // Whether run() reads its own blocked copy rather than the w it is given.
  bool has_constant_weights() const { return !blocked_.empty(); }

  // y = act(conv(x, w) + bias); bias may be nullptr.
  void run(const float* x, const float* w, const float* bias, float* y, int64_t batch, const Activation& act,
           ThreadPool& pool) const;

  // Output rows [r0, r0 + rows) of groups [g0, g1) of one image, on the calling thread, with the
  // constant weights. x holds input rows [x_row0, x_row1) of the channels of group g0 on, x_channel
  // floats apart (they must cover the rows in the map these outputs read); y is the image's output.
  void run_rows(const float* x, int64_t x_channel, int64_t x_row0, int64_t x_row1, const float* bias, float* y,
                int64_t g0, int64_t g1, int64_t r0, int64_t rows, const Activation& act) const;

 private:
  Window2d win_;
  int64_t groups_, in_c_, out_c_, ic_, oc_;
  int block_;                  // output channels per register block on this CPU
  std::vector<float> blocked_;  // constant weights as the kernel reads them (empty otherwise)
};

}  // namespace metalnn::cpu
