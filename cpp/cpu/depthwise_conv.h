// Depthwise convolution (group == input channels, each giving `multiplier` output channels), NCHW,
// 1-D or 2-D, any kernel size, stride, dilation and padding, with bias and fused activation; input
// channels are split across the pool.
#pragma once
#include <cstdint>
#include <vector>

#include "core/activation.h"
#include "cpu/thread_pool.h"
#include "core/ops/window2d.h"

namespace metalnn::cpu {

// y[n, c] = act(conv(x[n, c / multiplier], w[c]) + bias[c]) for c < in_channels * multiplier; w is
// [in_channels * multiplier, kernel_h, kernel_w]; bias may be nullptr.
// blocked_w, if not nullptr, is depthwise_blocked_weights(w), used where the channel-blocked path runs.
void depthwise_conv2d(const float* x, const float* w, const float* bias, float* y, int64_t batch, int64_t in_channels,
                      int64_t multiplier, const Window2d& win, const Activation& act, ThreadPool& pool,
                      const float* blocked_w = nullptr);

// Whether depthwise_conv2d runs this window channel-blocked (16 channels per vector) on this CPU.
bool depthwise_uses_blocks(const Window2d& win, int64_t multiplier);

// The weights [out_channels, kernel_size] as that path reads them: [blocks of 16 channels][kernel_size][16],
// the last block zero-filled.
std::vector<float> depthwise_blocked_weights(const float* w, int64_t out_channels, int64_t kernel_size);

}  // namespace metalnn::cpu
