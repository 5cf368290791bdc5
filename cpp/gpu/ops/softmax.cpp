// Softmax / LogSoftmax (metal/softmax.metal): the tensor viewed as [outer, axis, inner] (for
// `_coerce_2d`, [outer, axis * inner, 1]), as on the CPU.
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_softmax(Lowering& L, const Node& n) {
  const int x = n.inputs[0], y = n.outputs[0];
  const Shape& s = L.shape(x);
  const int rank = int(s.size());
  const bool coerce_2d = n.attrs.get_int("_coerce_2d", 0) != 0;
  const int64_t axis = node_axis(n, rank, coerce_2d ? 1 : -1);
  const AxisSplit split = coerce_2d ? split_from_axis(s, axis) : split_at_axis(s, axis);
  SoftmaxParams p{u32(n, split.outer * split.inner), u32(n, split.axis), u32(n, split.inner)};
  if (p.n == 0) return;
  const std::string variant = n.op_type == "LogSoftmax" ? "log" : "exp";
  L.dispatch(kernel_name("softmax", variant, L.suffix(x))).input(0, x).output(1, y).params(2, p).simdgroups_1d(p.rows);
}

}  // namespace metalnn::gpu
