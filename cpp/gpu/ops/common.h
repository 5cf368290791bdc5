// Helpers shared by the op lowerings: index arithmetic for the params structs of metal/params.h.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "core/ops/axis.h"
#include "core/ops/broadcast.h"
#include "gpu/lowering.h"
#include "params.h"

namespace metalnn::gpu {

// Checked narrowing: kernels index with 32-bit integers.
inline uint32_t u32(const Node& n, int64_t v) {
  if (v < 0 || v > int64_t(UINT32_MAX)) unsupported(n, "tensors with more than 2^32 elements");
  return uint32_t(v);
}

template <class T, class U>
void fill_array(const Node& n, T* dst, const std::vector<U>& src) {
  if (src.size() > MNN_MAX_RANK) unsupported(n, "tensors of rank above 8");
  std::copy(src.begin(), src.end(), dst);
}

// in[in_offset + idx . in_strides] -> out[out_offset + idx . out_strides] over `shape` (copy.metal).
void strided_copy(Lowering& L, const Node& n, int in, int out, const Shape& shape, const std::vector<int64_t>& in_strides,
                  int64_t in_offset, const std::vector<int64_t>& out_strides, int64_t out_offset);
// The whole of `in` into `out` (same element count), as reshapes need.
void contiguous_copy(Lowering& L, const Node& n, int in, int out);

// Activation, bias flag and output stride of a fused epilogue.
Epilogue epilogue_of(const Node& n, bool has_bias);

}  // namespace metalnn::gpu
