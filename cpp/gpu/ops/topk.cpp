// TopK (metal/topk.metal): the input viewed as [outer, axis, inner]; k is the outputs' axis length.
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_topk(Lowering& L, const Node& n) {
  const int x = n.inputs[0];
  const Shape& s = L.shape(x);
  const int64_t axis = node_axis(n, int64_t(s.size()), -1);
  const int values = n.outputs[0], indices = n.outputs.size() > 1 ? n.outputs[1] : -1;
  const Shape& out = L.shape(values >= 0 ? values : indices);
  const AxisSplit split = split_at_axis(s, axis);
  TopKParams p{};
  p.rows = u32(n, split.outer * split.inner);
  p.n = u32(n, split.axis);
  p.inner = u32(n, split.inner);
  p.k = u32(n, out[size_t(axis)]);
  p.largest = n.attrs.get_int("largest", 1) != 0;
  if (uint64_t(p.rows) * p.n > UINT32_MAX) unsupported(n, "inputs of 2^32 elements or more");
  if (p.k == 0 || p.rows == 0) return;
  Dispatch& d = L.dispatch(kernel_name("topk", "sort", L.suffix(x)));
  d.input(0, x);
  // An omitted output goes to a scratch buffer of its size.
  const std::vector<int64_t> scratch(size_t(p.rows) * p.k, 0);
  if (values >= 0) d.output(1, values);
  else d.buffer(1, L.upload_bytes(scratch.data(), scratch.size() * sizeof(int64_t)));
  if (indices >= 0) d.output(2, indices);
  else d.buffer(2, L.upload_bytes(scratch.data(), scratch.size() * sizeof(int64_t)));
  d.params(3, p).threads_1d(uint64_t(p.rows) * p.n);
}

}  // namespace metalnn::gpu
