// Flatten, Reshape, Squeeze, Unsqueeze, Identity and Dropout: a contiguous copy (the plan gives
// their output its own arena slot; metal/copy.metal).
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_reshape(Lowering& L, const Node& n) { contiguous_copy(L, n, n.inputs[0], n.outputs[0]); }

// Inference keeps every element, so Dropout's optional mask is all true: one byte broadcast.
void lower_dropout(Lowering& L, const Node& n) {
  lower_reshape(L, n);
  if (n.outputs.size() < 2 || n.outputs[1] < 0) return;
  const int mask = n.outputs[1];
  CopyParams p{};
  p.rank = 1;
  p.count = u32(n, shape_numel(L.shape(mask)));
  p.shape[0] = p.count;
  p.out_strides[0] = 1;  // in_strides[0] = 0
  if (p.count == 0) return;
  const unsigned char one = 1;
  L.dispatch(kernel_name("copy", "strided", width_suffix(DType::Bool)))
      .buffer(0, L.upload_bytes(&one, 1)).output(1, mask).params(2, p).threads_1d(p.count);
}

}  // namespace metalnn::gpu
