// Slice as one strided copy from the resolved window's start (metal/copy.metal).
#include "core/ops/slice.h"
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_slice(Lowering& L, const Node& n) {
  const Shape& in = L.shape(n.inputs[0]);
  const SliceWindow w = resolve_slice(in, L.constant_ints(n, 1), L.constant_ints(n, 2), L.constant_ints(n, 3),
                                      L.constant_ints(n, 4));
  const std::vector<int64_t> row = shape_strides(in);
  std::vector<int64_t> strides(in.size());
  int64_t offset = 0;
  for (size_t d = 0; d < in.size(); ++d) {
    offset += w.start[d] * row[d];
    strides[d] = w.out_shape[d] > 1 ? w.step[d] * row[d] : 0;
  }
  strided_copy(L, n, n.inputs[0], n.outputs[0], w.out_shape, strides, offset, shape_strides(w.out_shape), 0);
}

}  // namespace metalnn::gpu
