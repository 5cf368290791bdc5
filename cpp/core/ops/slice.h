// Slice's window, shared by the schema and the kernels.
#pragma once
#include <vector>

#include "core/tensor.h"

namespace metalnn {

// Per input axis: first element taken and stride between taken elements (0 and 1 on untouched axes).
struct SliceWindow {
  std::vector<int64_t> start, step;
  Shape out_shape;
};

// Applies ONNX clamping. `axes` may be negative and may be empty (meaning 0..n-1); `steps` may be
// empty (all 1). Inputs must already be validated: equal lengths, axes in range and unique, steps != 0.
SliceWindow resolve_slice(const Shape& in, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                          const std::vector<int64_t>& axes, const std::vector<int64_t>& steps);

}  // namespace metalnn
