// Tile as one strided copy (metal/copy.metal).
#include "gpu/ops/common.h"

namespace metalnn::gpu {

// Tile's output read as [repeats[0], in[0], repeats[1], in[1], ...]: one strided copy reading the input
// with stride 0 along the repeat dims (extent-1 dims dropped, so rank 4 always fits in 8).
void lower_tile(Lowering& L, const Node& n) {
  const Shape& in = L.shape(n.inputs[0]);
  const std::vector<int64_t> repeats = L.constant_ints(n, 1);
  const std::vector<int64_t> row = shape_strides(in);
  Shape view;
  std::vector<int64_t> strides;
  for (size_t d = 0; d < in.size(); ++d) {
    if (repeats[d] != 1) view.push_back(repeats[d]), strides.push_back(0);
    if (in[d] != 1) view.push_back(in[d]), strides.push_back(row[d]);
  }
  if (shape_numel(view) == 0) return;
  strided_copy(L, n, n.inputs[0], n.outputs[0], view, strides, 0, shape_strides(view), 0);
}

}  // namespace metalnn::gpu
