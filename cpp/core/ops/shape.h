// The dims the Shape op returns, shared by the schema and the kernels.
#pragma once
#include <utility>

#include "core/attributes.h"

namespace metalnn {

// The [start, end) range of dims Shape returns (opset 15 attributes, clamped like Python slicing).
std::pair<int64_t, int64_t> shape_dim_range(const Attributes& attrs, int rank);

}  // namespace metalnn
