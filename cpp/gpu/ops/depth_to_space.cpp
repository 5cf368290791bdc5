// DepthToSpace / SpaceToDepth: the block view of core/ops/depth_to_space.h as one strided copy
// (metal/copy.metal).
#include "core/ops/depth_to_space.h"
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_depth_to_space(Lowering& L, const Node& n) {
  const BlockView view = depth_to_space_view(n, L.shape(n.inputs[0]));
  if (shape_numel(view.shape) == 0) return;
  strided_copy(L, n, n.inputs[0], n.outputs[0], view.shape, view.strides, 0, shape_strides(view.shape), 0);
}

}  // namespace metalnn::gpu
