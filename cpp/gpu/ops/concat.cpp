// Concat: each input copied into its band of the output (metal/copy.metal).
#include "gpu/ops/common.h"

namespace metalnn::gpu {

// Each input is copied into its band of the output; the copies write disjoint bands.
void lower_concat(Lowering& L, const Node& n) {
  const int out = n.outputs[0];
  const Shape& out_shape = L.shape(out);
  const int axis = int(node_axis(n, int64_t(out_shape.size())));
  const std::vector<int64_t> out_strides = shape_strides(out_shape);
  int64_t begin = 0;
  for (int in : n.inputs) {
    if (in < 0) continue;
    const Shape& s = L.shape(in);
    if (shape_numel(s) > 0) strided_copy(L, n, in, out, s, shape_strides(s), 0, out_strides, begin * out_strides[size_t(axis)]);
    begin += s[size_t(axis)];
  }
}

}  // namespace metalnn::gpu
