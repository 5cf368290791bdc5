// CumSum (metal/cumsum.metal): the input viewed as [outer, axis, inner], one thread per column.
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_cumsum(Lowering& L, const Node& n) {
  const int x = n.inputs[0];
  const Shape& s = L.shape(x);
  int64_t axis = L.constant_ints(n, 1).at(0);
  if (axis < 0) axis += int64_t(s.size());
  const AxisSplit split = split_at_axis(s, axis);
  CumSumParams p{};
  p.columns = u32(n, split.outer * split.inner);
  p.n = u32(n, split.axis);
  p.inner = u32(n, split.inner);
  p.exclusive = n.attrs.get_int("exclusive", 0) != 0;
  p.reverse = n.attrs.get_int("reverse", 0) != 0;
  if (uint64_t(p.columns) * p.n > INT32_MAX) unsupported(n, "inputs of 2^31 elements or more");
  if (p.columns == 0 || p.n == 0) return;
  L.dispatch(kernel_name("cumsum", "scan", L.suffix(x))).input(0, x).output(1, n.outputs[0]).params(2, p).threads_1d(p.columns);
}

}  // namespace metalnn::gpu
