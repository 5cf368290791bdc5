// ArgMax / ArgMin (metal/arg_reduce.metal): the input viewed as [outer, axis, inner], one thread per
// (outer, inner) column.
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_arg_reduce(Lowering& L, const Node& n) {
  const int x = n.inputs[0], y = n.outputs[0];
  const Shape& s = L.shape(x);
  const int64_t axis = node_axis(n, int64_t(s.size()), 0);
  const AxisSplit split = split_at_axis(s, axis);
  ArgReduceParams p{};
  p.rows = u32(n, split.outer * split.inner);
  p.n = u32(n, split.axis);
  p.inner = u32(n, split.inner);
  p.select_last = n.attrs.get_int("select_last_index", 0) != 0;
  if (p.rows == 0) return;
  if (p.n == 0) unsupported(n, "an empty reduced axis");
  const std::string variant = n.op_type == "ArgMax" ? "max" : "min";
  L.dispatch(kernel_name("arg_reduce", variant, L.suffix(x))).input(0, x).output(1, y).params(2, p).threads_1d(p.rows);
}

}  // namespace metalnn::gpu
