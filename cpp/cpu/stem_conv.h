// A convolution with few input channels (network stems: 3 -> 32..64, 3x3 or 7x7, stride 2) computed
// directly, without an im2col matrix: each task copies the input rows of a band of output rows into a
// zero-padded buffer split into column phases (one per stride step), so every tap of a vector of
// output pixels is one contiguous load; a register tile of 8 output channels x 32 (AVX-512; 48 for a
// row's last 33-48) or 4 x 24 (AVX2) pixels sums all C_in x KH x KW taps and stores each output once,
// bias and clamp applied. The
// im2col GEMM's depth is only C_in x KH x KW (27 for 3x3 RGB), too short to amortise its tiles'
// loads and stores. A MaxPool reading only the convolution's output can run inside it
// (fuse_max_pool): each task keeps the few convolution rows its pooled rows need in a ring and pools
// each block of 8 channels right after making its rows, so the full-resolution map is never stored.
#pragma once
#include <cstdint>
#include <vector>

#include "core/activation.h"
#include "core/graph.h"
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

  // From now on run() writes max_pool(act(conv(x) + bias)) instead, `pool` being the pool's window over
  // the convolution's output. False (nothing changes) when no kernel suits that window: stride 2 along
  // rows, dilation 1 along rows, at most 16 taps each way.
  bool fuse_max_pool(const Window2d& pool);
  // The same for node `pool` when it is a float MaxPool of 2-D maps without an Indices output.
  bool fuse_max_pool(const Graph& g, const Node& pool);

  // y = act(conv(x) + bias) for a batch of NCHW images (pooled if fused); bias may be nullptr.
  void run(const float* x, const float* bias, float* y, int64_t batch, const Activation& act, ThreadPool& pool) const;

  // Output rows [oh0, oh1) of one image x, never pooled, on the calling thread: row i of channel o at
  // y + o * plane + i * out_w (for a caller that consumes the map a band of rows at a time).
  void rows(const float* x, const float* bias, float* y, int64_t plane, int64_t oh0, int64_t oh1,
            const Activation& act) const;
  const Window2d& window() const { return win_; }

 private:
  // The activation as the tiles apply it: clamped to [lo, hi], and if `exact` is false, act after.
  struct Epilogue {
    const Activation& act;
    float lo, hi;
    bool exact;
  };
  // The zero-padded, phase-split input rows output rows [oh0, oh1) of one image read, into buf.
  void fill(const float* x, int64_t oh0, int64_t oh1, std::vector<float>& buf) const;
  // nrows output rows of channels [o0, o1) (o0 a multiple of 8) from the buffer rows at `in`: row i of
  // channel o at y + o * plane + i * out_w.
  void compute(const float* in, const float* bias, float* y, int64_t plane, int64_t nrows, int64_t o0, int64_t o1,
               const Epilogue& e) const;
  // Pooled rows [ph0, ph1) of one image.
  void pooled_band(const float* x, const float* bias, float* y, int64_t ph0, int64_t ph1, const Epilogue& e) const;

  Window2d win_;
  Window2d pool_{};
  bool pooled_ = false;
  int64_t out_c_, in_c_;
  int64_t phase_len_;  // floats per column phase of a buffer row
  int64_t row_pitch_;  // floats per buffer row: stride_w phases
  std::vector<int64_t> taps_;  // per (channel, kh, kw): the tap's buffer offset for output (0, 0) of a band
  std::vector<float> packed_;  // [out_c / 8 rounded up][tap][8], zero past out_c
};

}  // namespace metalnn::cpu
