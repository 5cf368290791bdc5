// The epilogue of Conv/Gemm/MatMul: bias and fused activation in one pass over the output, while it
// is still warm from the GEMM.
#pragma once
#include <cstdint>

#include "core/activation.h"
#include "cpu/thread_pool.h"

namespace metalnn::cpu {

// y[r, c] = act(y[r, c] + row_bias[r] + col_bias[c]) over a rows x cols block with leading dim ld;
// either bias may be nullptr. Does nothing when there is neither bias nor activation.
void bias_activation(float* y, int64_t rows, int64_t cols, int64_t ld, const float* row_bias, const float* col_bias,
                     const Activation& act, ThreadPool& pool);

// The same on the calling thread, for a block that one worker just produced.
void bias_activation_serial(float* y, int64_t rows, int64_t cols, int64_t ld, const float* row_bias,
                            const float* col_bias, const Activation& act);

// y[c, r] = act(t[r, c] + bias[c]) for a rows x cols block of t (leading dimension ldt) into y (leading
// dimension ldy): a GEMM that produced the transpose of its output, finished on one thread. bias may
// be nullptr.
void transpose_bias_activation(const float* t, int64_t ldt, int64_t rows, int64_t cols, float* y, int64_t ldy,
                               const float* bias, const Activation& act);

// y[r, c] = act(y[r, c] + res[r, c]) over a rows x cols block, res laid out as y (a fused residual
// connection), on the calling thread.
void residual_activation_serial(float* y, const float* res, int64_t rows, int64_t cols, int64_t ld,
                                const Activation& act);

// y[i] = act(y[i] + res[i]) for i < n, split over the pool.
void residual_activation(float* y, const float* res, int64_t n, const Activation& act, ThreadPool& pool);

}  // namespace metalnn::cpu
