// ConvTranspose with fused bias and activation (metal/conv.metal's conv_transpose kernel): one thread
// per output element gathering its inputs; 1-D windows as height 1.
#include "core/ops/conv_transpose.h"
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_conv_transpose(Lowering& L, const Node& n) {
  const int x = n.inputs[0], w = n.inputs[1], y = n.outputs[0];
  const int bias = Lowering::has_input(n, 2) ? n.inputs[2] : -1;
  const Shape& xs = L.shape(x);
  const Shape& ys = L.shape(y);
  if (xs.size() != 3 && xs.size() != 4) unsupported(n, "ConvTranspose over other than 1 or 2 spatial dims");
  const TransposedWindow win = resolve_transposed_window(n, xs, L.shape(w));
  const size_t wd = win.in.size() - 1;
  // The height entry of a per-dim list; 1-D windows have height 1 (and no padding).
  auto at = [&](const std::vector<int64_t>& v, int64_t one_d) { return wd == 1 ? v[0] : one_d; };
  const int64_t groups = n.attrs.get_int("group", 1);
  ConvParams p{};
  p.batch = u32(n, xs[0]);
  p.in_c = u32(n, xs[1]), p.in_h = u32(n, at(win.in, 1)), p.in_w = u32(n, win.in[wd]);
  p.out_c = u32(n, ys[1]), p.out_h = u32(n, at(win.out, 1)), p.out_w = u32(n, win.out[wd]);
  p.kernel_h = u32(n, at(win.kernel, 1)), p.kernel_w = u32(n, win.kernel[wd]);
  p.stride_h = u32(n, at(win.stride, 1)), p.stride_w = u32(n, win.stride[wd]);
  p.dilation_h = u32(n, at(win.dilation, 1)), p.dilation_w = u32(n, win.dilation[wd]);
  p.pad_top = int32_t(at(win.pad_begin, 0)), p.pad_left = int32_t(win.pad_begin[wd]);
  p.in_c_per_group = u32(n, xs[1] / groups), p.out_c_per_group = u32(n, ys[1] / groups);
  p.epilogue = epilogue_of(n, bias >= 0);
  const uint64_t count = uint64_t(p.batch) * p.out_c * p.out_h * p.out_w;
  if (count == 0) return;
  L.dispatch(kernel_name("conv", "transpose", L.suffix(x)))
      .input(0, x).input(1, w).input(2, bias >= 0 ? bias : w).output(3, y).params(4, p).threads_1d(count);
}

}  // namespace metalnn::gpu
