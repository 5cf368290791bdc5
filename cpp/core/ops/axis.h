// A tensor viewed as [outer, axis, inner] around one of its dims: the layout the Softmax, ArgMax,
// TopK, Gather and LayerNormalization kernels of every device walk.
#pragma once
#include <cstdint>

#include "core/graph.h"
#include "core/tensor.h"

namespace metalnn {

// The node's "axis" attribute (`fallback` when absent), a negative one counted from the end of `rank` dims.
inline int64_t node_axis(const Node& n, int64_t rank, int64_t fallback = 0) {
  const int64_t axis = n.attrs.get_int("axis", fallback);
  return axis < 0 ? axis + rank : axis;
}

struct AxisSplit {
  int64_t outer = 1, axis = 1, inner = 1;
};

// Dims before `axis` (in [0, rank)), the axis itself, and the dims after it.
inline AxisSplit split_at_axis(const Shape& s, int64_t axis) {
  AxisSplit r;
  for (int64_t d = 0; d < int64_t(s.size()); ++d) (d < axis ? r.outer : d == axis ? r.axis : r.inner) *= s[size_t(d)];
  return r;
}

// Dims before `axis`, then every dim from `axis` on as one (inner 1): the rows of LayerNormalization
// and of opset < 13 Softmax (`_coerce_2d`).
inline AxisSplit split_from_axis(const Shape& s, int64_t axis) {
  AxisSplit r;
  for (int64_t d = 0; d < int64_t(s.size()); ++d) (d < axis ? r.outer : r.axis) *= s[size_t(d)];
  return r;
}

}  // namespace metalnn
