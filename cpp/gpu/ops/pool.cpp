// MaxPool / AveragePool, 1-D and 2-D (metal/pool.metal); geometry from core/ops/window.h as the
// CPU resolves it.
#include "core/ops/window.h"
#include "core/ops/window2d.h"
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_pool(Lowering& L, const Node& n) {
  const int x = n.inputs[0], y = n.outputs[0];
  const Shape& s = L.shape(x);
  if (s.size() > 4) unsupported(n, "pooling over more than 2 spatial dims");
  const Window2d w = to_window2d(resolve_window(n, std::vector<int64_t>(s.begin() + 2, s.end()),
                                                          n.attrs.get_ints("kernel_shape"),
                                                          n.attrs.get_int("ceil_mode", 0) != 0));
  PoolParams p{};
  p.count = u32(n, shape_numel(L.shape(y)));
  p.in_h = u32(n, w.in_h), p.in_w = u32(n, w.in_w), p.out_h = u32(n, w.out_h), p.out_w = u32(n, w.out_w);
  p.kernel_h = u32(n, w.kernel_h), p.kernel_w = u32(n, w.kernel_w);
  p.stride_h = u32(n, w.stride_h), p.stride_w = u32(n, w.stride_w);
  p.dilation_h = u32(n, w.dilation_h), p.dilation_w = u32(n, w.dilation_w);
  p.pad_top = int32_t(w.pad_top), p.pad_left = int32_t(w.pad_left);
  p.pad_bottom = int32_t(w.pad_bottom), p.pad_right = int32_t(w.pad_right);
  p.count_include_pad = n.attrs.get_int("count_include_pad", 0) != 0;
  const std::string variant = n.op_type == "MaxPool" ? "max" : "avg";
  L.dispatch(kernel_name("pool", variant, L.suffix(x))).input(0, x).output(1, y).params(2, p).threads_1d(p.count);
}

}  // namespace metalnn::gpu
