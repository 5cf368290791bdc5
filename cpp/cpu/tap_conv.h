// A dense convolution as one GEMM per kernel tap over the outputs that tap reaches inside the input:
// y[:, R_t] += W_t x_t[:, R_t], W_t the [out, in] weights of tap t, R_t the rectangle of outputs whose
// tap t reads a real (not padding) input. A dilated convolution on a small map (ASPP heads: dilation
// 12 to 36 on 28x28) reads padding on most taps; im2col multiplies all those zeros, this skips them,
// and each tap's GEMM is a 1x1 convolution's, the packed GEMM's best shape.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/activation.h"
#include "core/ops/window2d.h"
#include "core/tensor.h"
#include "cpu/packed_gemm.h"
#include "cpu/thread_pool.h"

namespace metalnn::cpu {

class TapConv {
 public:
  // Whether the window suits it: dilated, or padding taking a large share of im2col's products.
  static bool suits(const Window2d& w);

  // weights: [out_channels, in_channels, kh, kw] (one group); taps packed once per tensor.
  TapConv(const Tensor& weights, int64_t out_channels, int64_t in_channels, const Window2d& window, GemmIsa isa);

  // y = act(conv(x) + bias) for a batch of NCHW images; bias may be nullptr.
  void run(const float* x, const float* bias, float* y, int64_t batch, const Activation& act, ThreadPool& pool) const;

 private:
  struct Tap {
    int64_t i, j;              // kernel row and column
    IndexRange rows, cols;     // outputs whose tap lies inside the input
  };
  Window2d win_;
  int64_t out_c_, in_c_;
  std::vector<Tap> taps_;  // the taps that reach the input for some output
  std::shared_ptr<const std::vector<PackedMatrix>> packed_;  // per live tap: [out, in]
};

}  // namespace metalnn::cpu
