// Helpers shared by the op lowerings: index arithmetic for the params structs of metal/params.h.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "gpu/lowering.h"
#include "params.h"

namespace metalnn::gpu {

// Checked narrowing: kernels index with 32-bit integers.
inline uint32_t u32(const Node& n, int64_t v) {
  if (v < 0 || v > int64_t(UINT32_MAX)) unsupported(n, "tensors with more than 2^32 elements");
  return uint32_t(v);
}

// Element strides of `in` read as `out` under NumPy broadcasting (right-aligned; 0 along broadcast dims).
inline std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> strides(out.size(), 0);
  const std::vector<int64_t> row = shape_strides(in);
  const size_t lead = out.size() - in.size();
  for (size_t d = 0; d < in.size(); ++d) strides[lead + d] = in[d] == 1 ? 0 : row[d];
  return strides;
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
