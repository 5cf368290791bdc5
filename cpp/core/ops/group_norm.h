// InstanceNormalization and GroupNormalization as one geometry: the [N, C, spatial...] input as
// N * groups rows of (C / groups) * spatial contiguous elements, each normalised on its own; element i
// of row r takes scale/bias entry ((r % groups) * width + i) / span (span: the spatial size for
// per-channel scales, the row width for GroupNormalization-18's per-group ones).
#pragma once
#include <cstdint>

#include "core/graph.h"

namespace metalnn {

struct GroupNormView {
  int64_t rows = 0, width = 0, groups = 1, span = 1;
  float epsilon = 1e-5f;
};

// `x` is the input shape the schema checked.
GroupNormView group_norm_view(const Node& n, const Shape& x);

}  // namespace metalnn
