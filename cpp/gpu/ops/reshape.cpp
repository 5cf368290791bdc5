// Flatten, Reshape, Squeeze, Unsqueeze, Identity and Dropout: a contiguous copy (the plan gives
// their output its own arena slot; metal/copy.metal).
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_reshape(Lowering& L, const Node& n) { contiguous_copy(L, n, n.inputs[0], n.outputs[0]); }

}  // namespace metalnn::gpu
