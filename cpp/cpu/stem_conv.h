// A convolution with few input channels (network stems: 3 -> 32..64, 3x3 or 7x7, stride 2) computed
// directly, without an im2col matrix: each task copies the input rows of a band of output rows into a
// zero-padded buffer split into column phases (one per stride step), so every tap of a vector of
// output pixels is one contiguous load; a register tile of 8 output channels x 32 (AVX-512) or 4 x 24
// (AVX2) pixels sums all C_in x KH x KW taps and stores each output once, bias and clamp applied. The
// im2col GEMM's depth is only C_in x KH x KW (27 for 3x3 RGB), too short to amortise its tiles'
// loads and stores.
#pragma once
#include <cstdint>
#include <vector>

#include "core/activation.h"
#include "core/ops/window2d.h"
#include "core/tensor.h"
#include "cpu/thread_pool.h"

namespace metalnn::cpu {

class StemConv {
 public:
  // Whether a kernel is available (AVX2 at least; METALNN_STEM_KERNELS=avx512|avx2|portable caps it, portable
  // meaning none) and the window and channels suit it.
  static bool suits(const Window2d& w, int64_t in_channels, int64_t groups);

  // weights: [out_channels, in_channels, kh, kw], packed once here.
  StemConv(const Tensor& weights, int64_t out_channels, int64_t in_channels, const Window2d& window);

  // y = act(conv(x) + bias) for a batch of NCHW images; bias may be nullptr.
  void run(const float* x, const float* bias, float* y, int64_t batch, const Activation& act, ThreadPool& pool) const;

 private:
  void band(const float* x, const float* bias, float* y, int64_t oh0, int64_t oh1, const Activation& act,
            std::vector<float>& buf) const;

  Window2d win_;
  int64_t out_c_, in_c_;
  int64_t phase_len_;  // floats per column phase of a buffer row
  int64_t row_pitch_;  // floats per buffer row: stride_w phases
  std::vector<int64_t> taps_;  // per (channel, kh, kw): the tap's buffer offset for output (0, 0) of a band
  std::vector<float> packed_;  // [out_c / 8 rounded up][tap][8], zero past out_c
};

}  // namespace metalnn::cpu
