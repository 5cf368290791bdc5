// InstanceNormalization / GroupNormalization (metal/group_norm.metal): the rows of
// core/ops/group_norm.h, one SIMD-group per row; scale and bias read per channel or per group.
#include "core/ops/group_norm.h"
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_group_norm(Lowering& L, const Node& n) {
  const int x = n.inputs[0];
  const GroupNormView v = group_norm_view(n, L.shape(x));
  GroupNormParams p{};
  p.rows = u32(n, v.rows);
  p.width = u32(n, v.width);
  p.groups = u32(n, v.groups);
  p.span = u32(n, v.span);
  p.epsilon = v.epsilon;
  if (uint64_t(p.rows) * p.width > UINT32_MAX) unsupported(n, "inputs of 2^32 elements or more");
  if (p.rows == 0 || p.width == 0) return;
  L.dispatch(kernel_name("group_norm", "row", L.suffix(x)))
      .input(0, x)
      .input(1, n.inputs[1])
      .input(2, n.inputs[2])
      .output(3, n.outputs[0])
      .params(4, p)
      .simdgroups_1d(p.rows);
}

}  // namespace metalnn::gpu
