// 1x1 stride-1 unpadded convolution for the shapes of mobile networks' expansion and projection
// layers: a 6-channel x 16-pixel register tile reads the input rows straight from the image, with
// no packing, and writes each output once with bias and a clamp-shaped activation already applied
// (the BLAS path writes it twice: GEMM, then epilogue).
#pragma once
#include <cstdint>

#include "core/activation.h"
#include "cpu/thread_pool.h"

namespace metalnn::cpu {

class PointwiseConv {
 public:
  // Whether the kernel takes a layer of this shape on this CPU (where it beats BLAS).
  static bool supports(int64_t in_channels, int64_t out_channels, int64_t pixels);

  // y[b] = act(w * x[b] + bias) for NCHW images of `pixels` pixels; w is [out_channels, in_channels].
  static void run(const float* x, const float* w, const float* bias, float* y, int64_t batch, int64_t in_channels,
                  int64_t out_channels, int64_t pixels, const Activation& act, ThreadPool& pool);
};

}  // namespace metalnn::cpu
