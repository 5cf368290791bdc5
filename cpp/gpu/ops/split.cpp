// Split: each output copied from its band of the input (metal/copy.metal).
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_split(Lowering& L, const Node& n) {
  const int in = n.inputs[0];
  const Shape& in_shape = L.shape(in);
  const int axis = int(node_axis(n, int64_t(in_shape.size())));
  const std::vector<int64_t> in_strides = shape_strides(in_shape);
  int64_t begin = 0;
  for (int out : n.outputs) {
    if (out < 0) continue;
    const Shape& s = L.shape(out);
    if (shape_numel(s) > 0) strided_copy(L, n, in, out, s, in_strides, begin * in_strides[size_t(axis)], shape_strides(s), 0);
    begin += s[size_t(axis)];
  }
}

}  // namespace metalnn::gpu
