// 3x3 stride-1 convolution by Winograd F(2x2, 3x3): each 2x2 block of outputs comes from a 4x4
// input tile with 16 multiplies per input channel instead of 36, as 16 GEMMs between transformed
// weights and transformed input tiles. Transforms are AVX2 (8 tiles per vector); the GEMMs are BLAS.
#pragma once
#include <cstdint>
#include <vector>

#include "core/activation.h"
#include "cpu/thread_pool.h"
#include "cpu/window2d.h"

namespace metalnn::cpu {

class WinogradConv {
 public:
  // Whether the kernel handles this window (3x3, stride 1, dilation 1) on this CPU.
  static bool supports(const Window2d& w);

  // weights: [out_channels, in_channels, 3, 3], transformed here once.
  WinogradConv(const float* weights, int64_t out_channels, int64_t in_channels, const Window2d& window);

  // y = act(conv(x) + bias) for a batch of NCHW images; bias may be nullptr.
  void run(const float* x, const float* bias, float* y, int64_t batch, const Activation& act, ThreadPool& pool) const;

 private:
  void run_chunk(const float* x, const float* bias, float* y, int64_t tile_row0, int64_t tile_rows,
                 const Activation& act) const;

  int64_t out_c_, in_c_;
  Window2d win_;
  int64_t tiles_h_, tiles_w_, row_tiles_;  // row_tiles_: tiles_w_ rounded up to whole vectors
  int64_t chunk_rows_;                     // tile rows per task
  std::vector<float> u_;                   // 16 transformed weight matrices [out_c, in_c]
};

}  // namespace metalnn::cpu
