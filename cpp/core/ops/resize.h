// Resize geometry, shared by the schema and the kernels: output shape, per-axis scale and crop box
// from the constant roi / scales / sizes inputs and the axes and keep_aspect_ratio_policy attributes.
#pragma once
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

}  // namespace metalnn
