// Trilu (metal/trilu.metal): one thread per element, the kernel chosen by element width.
#include <algorithm>

#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_trilu(Lowering& L, const Node& n) {
  const int x = n.inputs[0];
  const Shape& s = L.shape(x);
  const int64_t rows = s[s.size() - 2], cols = s.back();
  const std::vector<int64_t> k = L.constant_ints(n, 1);
  TriluParams p{};
  p.count = u32(n, shape_numel(s));
  p.rows = u32(n, rows);
  p.cols = u32(n, cols);
  p.k = int32_t(std::clamp<int64_t>(k.empty() ? 0 : k[0], -rows - 1, cols + 1));
  p.upper = n.attrs.get_int("upper", 1) != 0;
  if (p.count == 0) return;
  L.dispatch(kernel_name("trilu", "mask", width_suffix(L.storage(x))))
      .input(0, x)
      .output(1, n.outputs[0])
      .params(2, p)
      .threads_1d(p.count);
}

}  // namespace metalnn::gpu
