// Transpose as one strided copy reading the input in permuted order (metal/copy.metal).
#include "core/ops/transpose.h"
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_transpose(Lowering& L, const Node& n) {
  const Shape& in = L.shape(n.inputs[0]);
  const std::vector<int64_t> perm = transpose_perm(n.attrs, int(in.size()));
  const std::vector<int64_t> row = shape_strides(in);
  std::vector<int64_t> strides;
  for (int64_t axis : perm) strides.push_back(row[size_t(axis)]);
  const Shape& out = L.shape(n.outputs[0]);
  strided_copy(L, n, n.inputs[0], n.outputs[0], out, strides, 0, shape_strides(out), 0);
}

}  // namespace metalnn::gpu
