// Depthwise convolution with kernels 3 wide at stride 2 (AVX-512), read in place from NCHW: each
// kernel row's inputs for a run of up to 15 outputs are two masked loads (zeros where the padding
// is), and each tap's every-other-column vector one two-source permute of them. No padded copy, no
// transposes.
#pragma once
#include <cstdint>

#include "core/activation.h"
#include "core/ops/window2d.h"
#include "cpu/thread_pool.h"

namespace metalnn::cpu {

// Whether depthwise_stride2 runs this window on this CPU (`isa_ok`: AVX-512 allowed by the caller's cap).
bool depthwise_stride2_suits(const Window2d& win, bool isa_ok);

// As depthwise_conv2d, for a window depthwise_stride2_suits.
void depthwise_stride2(const float* x, const float* w, const float* bias, float* y, int64_t batch,
                       int64_t in_channels, int64_t multiplier, const Window2d& win, const Activation& act,
                       ThreadPool& pool);

}  // namespace metalnn::cpu
