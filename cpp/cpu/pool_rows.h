// One output row of a MaxPool or AveragePool whose window moves two columns a step (dilation 1 along
// rows, at most kMaxStride2Taps taps each way), in two vector passes: the max or sum over the
// window's input rows into a padded row, then over the taps along it. Serves the pool kernel and the
// stem convolution's fused pool (cpu/stem_conv.h).
#pragma once
#include <cstdint>

namespace metalnn::cpu {

constexpr int64_t kMaxStride2Taps = 16;

// Whether pool_row_s2 may run: AVX2 present, METALNN_POOL_KERNELS=portable not set.
bool pool_rows_avx2();

// Scratch floats pool_row_s2 needs for out_w outputs.
inline int64_t pool_row_floats(int64_t out_w) { return 8 * (2 * ((out_w + 7) / 8) + 2); }

// out[ow] for ow < out_w: the max (Max) or sum over rows[0, nrows) and taps j < taps of input column
// 2 ow + j - pad_left (-inf or 0 outside [0, in_w)); sums times row_scale x col_scale[ow], col_scale
// holding whole vectors (out_w rounded up to 16). Only when pool_rows_avx2(); with AVX-512 (unless
// METALNN_POOL_KERNELS caps it) in registers, buf unused.
template <bool Max>
void pool_row_s2(const float* const* rows, int64_t nrows, int64_t pad_left, int64_t in_w, int64_t taps, int64_t out_w,
                 float* buf, float* out, float row_scale = 1.f, const float* col_scale = nullptr);

}  // namespace metalnn::cpu
