// NumPy broadcasting of shapes (the elementwise, Where and Expand schemas) and of strides (the kernels
// of every device that read an input broadcast to a larger shape).
#pragma once
#include "core/op_schema.h"

namespace metalnn {

// The broadcast of `a` and `b` (right-aligned, dims equal or 1); false when they are incompatible.
bool try_broadcast_shapes(const Shape& a, const Shape& b, Shape* out);

// The broadcast shape of all present inputs from `first` on; fails with ShapeError naming the two
// incompatible shapes.
Shape broadcast_input_shapes(const InferContext& ctx, int first = 0);

// Element strides of a tensor of shape `in` read as `out` under NumPy broadcasting (right-aligned,
// 0 along dims `in` lacks or has as 1).
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);

}  // namespace metalnn
