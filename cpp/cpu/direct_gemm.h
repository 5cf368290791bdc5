// A GEMM for convolutions with few input channels per output (1x1 layers of mobile networks, the
// im2col tiles of small convolutions): C = act(W * X + bias) with W the [m, k] weights and X read
// straight from the image or im2col tile, no packing; a 6-channel x 16-pixel register tile writes
// each output once with bias and a clamp-shaped activation already applied (the BLAS path writes
// it twice: GEMM, then epilogue). With AVX-512 (as gemm_isa() says) the tile is 8 channels x 32 pixels.
// AVX2 at least.
#pragma once
#include <cstdint>

#include "core/activation.h"
#include "cpu/thread_pool.h"

namespace metalnn::cpu {

// Whether the kernel is available and beats the packed GEMM or BLAS (measured) for a 1x1 convolution
// of this shape over `images` images.
bool direct_gemm_suits_pointwise(int64_t in_channels, int64_t out_channels, int64_t pixels, int64_t images = 1);
// The same for an im2col convolution tile with k = in_channels * kernel taps.
bool direct_gemm_suits_im2col(int64_t k, int64_t out_channels);

// y (m x n, rows ldy apart) = act(w (m x k, dense) * x (k x n, rows ldx apart) + bias[row]), on the
// calling thread; bias may be nullptr.
void direct_gemm(const float* x, int64_t ldx, const float* w, const float* bias, float* y, int64_t ldy, int64_t k,
                 int64_t m, int64_t n, const Activation& act);

// A 1x1 stride-1 unpadded convolution over NCHW images of `pixels` pixels, split over the pool; output
// images y_image floats apart (0: contiguous).
void pointwise_conv_direct(const float* x, const float* w, const float* bias, float* y, int64_t batch,
                           int64_t in_channels, int64_t out_channels, int64_t pixels, const Activation& act,
                           ThreadPool& pool, int64_t y_image = 0);

}  // namespace metalnn::cpu
