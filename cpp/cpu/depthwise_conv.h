// Depthwise convolution (group == channels == output channels), NCHW, with bias and fused
// activation; one channel plane per task, one output row at a time so the row stays in L1.
#pragma once
#include <cstdint>

#include "core/activation.h"
#include "cpu/thread_pool.h"
#include "core/ops/window2d.h"

namespace metalnn::cpu {

// y[n, c] = act(conv(x[n, c], w[c]) + bias[c]); w is [channels, kernel_h, kernel_w]; bias may be nullptr.
void depthwise_conv2d(const float* x, const float* w, const float* bias, float* y, int64_t batch, int64_t channels,
                      const Window2d& win, const Activation& act, ThreadPool& pool);

}  // namespace metalnn::cpu
