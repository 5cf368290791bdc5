// Sliding-window geometry shared by Conv, MaxPool and AveragePool: resolves kernel, strides,
// dilations, pads and auto_pad against the input's spatial dims, so every device computes the
// same output size and padding.
#pragma once
#include <cstdint>
#include <vector>

#include "core/graph.h"

namespace metalnn {

struct Window {
  std::vector<int64_t> in, kernel, stride, dilation, pad_begin, pad_end, out;
  int spatial() const { return static_cast<int>(in.size()); }
};

// Reads strides/dilations/pads/auto_pad from `n` for a window of size `kernel` sliding over
// `in_spatial`. Throws ModelError / ShapeError prefixed with the node's label on bad attributes or
// a kernel larger than the padded input.
Window resolve_window(const Node& n, const std::vector<int64_t>& in_spatial, const std::vector<int64_t>& kernel,
                      bool ceil_mode);

}  // namespace metalnn
