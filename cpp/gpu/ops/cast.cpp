// Cast (metal/cast.metal); a cast between equal storage types is a copy.
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_cast(Lowering& L, const Node& n) {
  const int x = n.inputs[0], y = n.outputs[0];
  if (L.storage(x) == L.storage(y)) return contiguous_copy(L, n, x, y);
  const CastParams p{u32(n, shape_numel(L.shape(x)))};
  L.dispatch(kernel_name("cast", L.suffix(x), L.suffix(y))).input(0, x).output(1, y).params(2, p).threads_1d(p.count);
}

}  // namespace metalnn::gpu
