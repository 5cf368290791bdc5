// im2col for maps whose output rows are at most 64 wide (the 56x56 to 7x7 layers of ResNets, AlexNet's
// 55x55 stride-4 stem): each output row of each tap is up to four AVX-512 vectors, loaded under a mask
// of the columns that read the input (padding lanes zero; permuted at strides 2 and 4, gathered at
// others) and stored under a mask, where the general im2col copies runs of 7 to 56 floats one call
// each (a float at a time at strides above 2) and spent a fifth of a 7x7 layer's time.
#pragma once
#include <cstdint>

#include "core/ops/window2d.h"
#include "cpu/thread_pool.h"

namespace metalnn::cpu {

// Whether narrow_im2col serves this window on this CPU (METALNN_IM2COL_KERNELS=avx2|portable turns it off).
bool narrow_im2col_suits(const Window2d& w);

// im2col() (cpu/im2col.h), same arguments and result, for windows narrow_im2col_suits.
void narrow_im2col(const float* x, int64_t channels, const Window2d& w, int64_t col_begin, int64_t col_end, float* col,
                   ThreadPool& pool, int64_t image_stride);

}  // namespace metalnn::cpu
