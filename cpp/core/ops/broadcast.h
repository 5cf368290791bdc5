// NumPy broadcasting of shapes, shared by the elementwise, Where and Expand schemas.
#pragma once
#include "core/op_schema.h"

namespace metalnn {

// The broadcast of `a` and `b` (right-aligned, dims equal or 1); false when they are incompatible.
bool try_broadcast_shapes(const Shape& a, const Shape& b, Shape* out);

// The broadcast shape of all present inputs from `first` on; fails with ShapeError naming the two
// incompatible shapes.
Shape broadcast_input_shapes(const InferContext& ctx, int first = 0);

}  // namespace metalnn
