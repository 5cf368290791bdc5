// im2col for the GEMM convolution: unfolds one image (or one group of its channels) into a matrix
// whose row (c, kh, kw) holds, for each output position, the input pixel that tap reads (0 in padding).
#pragma once
#include <cstdint>

#include "cpu/thread_pool.h"
#include "core/ops/window2d.h"

namespace metalnn::cpu {

// Writes columns [col_begin, col_end) (output positions p = oh * out_w + ow) of the im2col matrix of
// `x` ([channels, in_h, in_w]) into `col`, row-major with row length col_end - col_begin. With an
// image_stride, the columns run on past the map into the next image's (image_stride floats further
// on): column i * out_size + p is position p of image i, so one matrix holds a batch side by side.
void im2col(const float* x, int64_t channels, const Window2d& w, int64_t col_begin, int64_t col_end, float* col,
            ThreadPool& pool, int64_t image_stride = 0);

}  // namespace metalnn::cpu
