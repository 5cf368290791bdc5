// Gather (metal/gather.metal): data viewed as [outer, axis, inner]; constant indices are uploaded as
// int32, run-time indices are read in their own type.
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_gather(Lowering& L, const Node& n) {
  const int data = n.inputs[0], indices = n.inputs[1], y = n.outputs[0];
  const Shape& shape = L.shape(data);
  int64_t axis = n.attrs.get_int("axis", 0);
  if (axis < 0) axis += int64_t(shape.size());
  GatherParams p{};
  p.count = u32(n, shape_numel(L.shape(y)));
  p.axis_len = u32(n, shape[size_t(axis)]);
  p.index_count = u32(n, shape_numel(L.shape(indices)));
  p.inner = u32(n, shape_numel(Shape(shape.begin() + axis + 1, shape.end())));
  const std::string width = width_suffix(L.storage(data));
  if (const Tensor* constant = L.constant_input(n, 1)) {
    std::vector<int32_t> values;
    for (int64_t v : constant->to_int_vector()) values.push_back(int32_t(v));
    auto buffer = L.upload_bytes(values.data(), values.size() * sizeof(int32_t));
    L.dispatch(kernel_name("gather", "i32", width)).input(0, data).buffer(1, buffer).output(2, y).params(3, p).threads_1d(p.count);
    return;
  }
  L.dispatch(kernel_name("gather", L.suffix(indices), width))
      .input(0, data).input(1, indices).output(2, y).params(3, p).threads_1d(p.count);
}

}  // namespace metalnn::gpu
