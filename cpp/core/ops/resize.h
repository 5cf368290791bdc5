// Resize geometry, shared by the schema and the kernels: output shape, per-axis scale and crop box
// from the constant roi / scales / sizes inputs and the axes and keep_aspect_ratio_policy attributes.
#pragma once
#include <string>
#include <vector>

#include "core/graph.h"

namespace metalnn {

struct ResizeGeometry {
  Shape out;
  std::vector<double> scale;               // per input dim; sizes give out / in (or the kept aspect ratio)
  std::vector<double> roi_start, roi_end;  // per input dim, for tf_crop_and_resize (0 and 1 otherwise)
};

// Any of roi, scales and sizes may be null or empty. Errors start with the node's label.
ResizeGeometry resolve_resize(const Node& n, const Shape& in, const Tensor* roi, const Tensor* scales,
                              const Tensor* sizes);

// How output coordinate o of an axis reads the input: rows i0 and i1 weighted 1 - w1 and w1 (linear;
// nearest: i0 alone, i1 = i0, w1 = 0), or the extrapolation value (outside a tf_crop_and_resize box).
struct ResizeTap {
  int64_t i0, i1;
  float w1;
  bool outside;
};

// The taps of every output coordinate along input dim d (ONNX's formulas, in double like the reference).
std::vector<ResizeTap> resize_axis_taps(const Node& n, const ResizeGeometry& geo, const Shape& in, size_t d);

// Cubic, and antialiased linear: output coordinate o of an axis sums weight[k] * row index[k] over
// k in [first[o], first[o + 1]) (rows clamped into the input, zero weights left out), or is the
// extrapolation value where outside[o].
struct ResizeFilter {
  std::vector<int64_t> first;
  std::vector<int64_t> index;
  std::vector<float> weight;
  std::vector<bool> outside;
};

// True when the node resizes through filters (resize_axis_filter) rather than taps.
bool resize_uses_filter(const Node& n);

// The filter of every output coordinate along input dim d (the ONNX reference's neighbourhoods and
// coefficients: Keys' cubic with cubic_coeff_a, exclude_outside, antialias widening on downscale).
ResizeFilter resize_axis_filter(const Node& n, const ResizeGeometry& geo, const Shape& in, size_t d);

}  // namespace metalnn
