// DepthToSpace and SpaceToDepth as one strided view: the output, seen as a 6-D block layout, reads the
// input at these strides (so both devices run them as a plain strided copy).
#pragma once
#include <vector>

#include "core/graph.h"

namespace metalnn {

struct BlockView {
  Shape shape;                   // the output's elements in row-major order of this 6-D shape
  std::vector<int64_t> strides;  // input element stride of each of those dims
};

// `in` is the NCHW input shape the schema checked.
BlockView depth_to_space_view(const Node& n, const Shape& in);

}  // namespace metalnn
