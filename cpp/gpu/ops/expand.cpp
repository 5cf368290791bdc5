// Expand as one strided copy reading the input with broadcast strides (metal/copy.metal).
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_expand(Lowering& L, const Node& n) {
  const Shape& out = L.shape(n.outputs[0]);
  strided_copy(L, n, n.inputs[0], n.outputs[0], out, broadcast_strides(L.shape(n.inputs[0]), out), 0,
               shape_strides(out), 0);
}

}  // namespace metalnn::gpu
