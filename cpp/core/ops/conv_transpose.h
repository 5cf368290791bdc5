// ConvTranspose geometry, shared by the schema and the kernels: the padding and output size each
// spatial dim gets from strides, dilations, pads, output_padding, output_shape and auto_pad.
#pragma once
#include <vector>

#include "core/graph.h"
#include "core/ops/window.h"

namespace metalnn {

// A ConvTranspose is the adjoint of the Conv from its output (`out`) to its input (`in`) with the
// same kernel, strides, dilations and pads; as_conv_window() gives that Conv's window.
struct TransposedWindow {
  std::vector<int64_t> in, kernel, stride, dilation, pad_begin, pad_end, out;
  Window as_conv_window() const { return Window{out, kernel, stride, dilation, pad_begin, pad_end, in}; }
};

// Resolves the node's attributes against the input and weight shapes; errors start with the node's label.
TransposedWindow resolve_transposed_window(const Node& n, const Shape& x, const Shape& w);

}  // namespace metalnn
