// Which axes a ReduceMean/Sum/Max/Min node reduces, shared by the schema and the kernels.
#pragma once
#include <vector>

#include "core/attributes.h"

namespace metalnn {

// Per input axis, 1 when reduced. Axes come from `axes_input` (opset 18 form; may be null) or the
// `axes` attribute; none means all axes, or none at all with noop_with_empty_axes. Axes must be valid.
std::vector<char> reduced_axes(int rank, const Tensor* axes_input, const Attributes& attrs);

}  // namespace metalnn
