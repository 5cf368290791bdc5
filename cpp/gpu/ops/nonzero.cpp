// NonZero (metal/nonzero.metal): one threadgroup scans the whole input; a nonzero test on 1-byte
// dtypes (bool, int8, uint8) is a test of the byte.
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_nonzero(Lowering& L, const Node& n) {
  const int x = n.inputs[0];
  const Shape& s = L.shape(x);
  NonZeroParams p{};
  p.count = u32(n, shape_numel(s));
  const Shape dims = s.empty() ? Shape{1} : s;
  p.rank = uint32_t(dims.size());
  fill_array(n, p.shape, dims);
  if (p.count == 0) return;
  const std::string dtype = dtype_size(L.storage(x)) == 1 ? "u8" : L.suffix(x);
  L.dispatch(kernel_name("nonzero", "scan", dtype)).input(0, x).output(1, n.outputs[0]).params(2, p).grid(Size3{1, 1, 1}, Size3{256, 1, 1});
}

}  // namespace metalnn::gpu
