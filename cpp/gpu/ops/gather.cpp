// Gather and GatherElements (metal/gather.metal): Gather views data as [outer, axis, inner]. Constant
// indices are uploaded as int32, run-time indices are read in their own type.
#include "gpu/ops/common.h"

namespace metalnn::gpu {

namespace {

// `op`'s kernel for the data width and index type, bound as (data, indices, out, params).
template <class Params>
void dispatch_indexed(Lowering& L, const Node& n, const char* op, const Params& p) {
  const int data = n.inputs[0], indices = n.inputs[1];
  const std::string width = width_suffix(L.storage(data));
  if (p.count == 0) return;
  // The kernel clamps out-of-range indices to the axis; an empty axis has nothing to clamp to.
  if (p.axis_len == 0)
    throw ShapeError(n.label() + ": indices select from axis " + std::to_string(node_axis(n, int64_t(L.shape(data).size()))) +
                     " of data '" + L.graph().value(data).name + "' " + shape_str(L.shape(data)) + ", which is empty");
  if (const Tensor* constant = L.constant_input(n, 1)) {
    std::vector<int32_t> values;
    for (int64_t v : constant->to_int_vector()) values.push_back(int32_t(v));
    auto buffer = L.upload_bytes(values.data(), values.size() * sizeof(int32_t));
    L.dispatch(kernel_name(op, "i32", width)).input(0, data).buffer(1, buffer).output(2, n.outputs[0]).params(3, p)
        .threads_1d(p.count);
    return;
  }
  L.dispatch(kernel_name(op, L.suffix(indices), width))
      .input(0, data).input(1, indices).output(2, n.outputs[0]).params(3, p).threads_1d(p.count);
}

}  // namespace

void lower_gather(Lowering& L, const Node& n) {
  const Shape& shape = L.shape(n.inputs[0]);
  const int64_t axis = node_axis(n, int64_t(shape.size()));
  GatherParams p{};
  p.count = u32(n, shape_numel(L.shape(n.outputs[0])));
  const AxisSplit split = split_at_axis(shape, axis);
  p.axis_len = u32(n, split.axis);
  p.index_count = u32(n, shape_numel(L.shape(n.inputs[1])));
  p.inner = u32(n, split.inner);
  dispatch_indexed(L, n, "gather", p);
}

void lower_gather_elements(Lowering& L, const Node& n) {
  const Shape& shape = L.shape(n.inputs[0]);
  const Shape& indices = L.shape(n.inputs[1]);
  const int64_t axis = node_axis(n, int64_t(shape.size()));
  GatherElementsParams p{};
  p.count = u32(n, shape_numel(indices));
  p.rank = uint32_t(shape.size());
  p.axis = uint32_t(axis);
  p.axis_len = u32(n, shape[size_t(axis)]);
  fill_array(n, p.shape, indices);
  fill_array(n, p.data_strides, shape_strides(shape));
  dispatch_indexed(L, n, "gather_elements", p);
}

}  // namespace metalnn::gpu
