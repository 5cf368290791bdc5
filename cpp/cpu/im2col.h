// im2col for the GEMM convolution: unfolds one image (or one group of its channels) into a matrix
// whose row (c, kh, kw) holds, for each output position, the input pixel that tap reads (0 in padding).
#pragma once
#include <cstdint>

#include "cpu/thread_pool.h"
#include "core/ops/window2d.h"

namespace metalnn::cpu {

// Writes columns [col_begin, col_end) (output positions p = oh * out_w + ow) of the im2col matrix of
// `x` ([channels, in_h, in_w]) into `col`, row-major with row length col_end - col_begin.
void im2col(const float* x, int64_t channels, const Window2d& w, int64_t col_begin, int64_t col_end, float* col,
            ThreadPool& pool);

}  // namespace metalnn::cpu
