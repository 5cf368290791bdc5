// Pool schemas: MaxPool (float32, int8, uint8) and AveragePool (float32) (kernel_shape, strides, pads, dilations, ceil_mode,
// count_include_pad, auto_pad) over 1-D and 2-D inputs; GlobalAveragePool / GlobalMaxPool over any
// spatial rank.
#include <algorithm>

#include "core/ops/nn_checks.h"
#include "core/ops/window.h"

namespace metalnn {

void infer_pool(InferContext& ctx) {
  ctx.check_inputs(1, 1);
  // MaxPool also takes int8 and uint8 (opset 12): the maximum is one of the bytes, whatever their scale.
  const DType t = ctx.input_dtype(0);
  if (!(ctx.node().op_type == "MaxPool" && (t == DType::Int8 || t == DType::UInt8))) require_float32_inputs(ctx);
  require_1d_or_2d(ctx, "pooling");
  const Shape& x = ctx.input_shape(0);
  if (!ctx.attrs().has("kernel_shape")) ctx.fail_model("attribute kernel_shape is required");
  if (ctx.has_output(1))
    ctx.fail_unsupported("the optional Indices output of MaxPool is not supported");
  const int64_t ceil_mode = ctx.attrs().get_int("ceil_mode", 0);
  if (ceil_mode != 0 && ceil_mode != 1) ctx.fail_model("ceil_mode " + std::to_string(ceil_mode) + " must be 0 or 1");
  Window win = resolve_window(ctx.node(), std::vector<int64_t>(x.begin() + 2, x.end()),
                              ctx.attrs().get_ints("kernel_shape"), ceil_mode != 0);
  // A pad as large as the window would allow windows that see only padding.
  for (int i = 0; i < win.spatial(); ++i) {
    const int64_t extent = (win.kernel[i] - 1) * win.dilation[i] + 1;
    if (win.pad_begin[i] >= extent || win.pad_end[i] >= extent)
      ctx.fail_shape("pads " + shape_str(win.pad_begin) + " / " + shape_str(win.pad_end) +
                     " must be smaller than the window in every dim (kernel " + shape_str(win.kernel) + ")");
  }
  Shape out = {x[0], x[1]};
  out.insert(out.end(), win.out.begin(), win.out.end());
  ctx.set_output(0, t, out);
}

void infer_global_pool(InferContext& ctx) {
  ctx.check_inputs(1, 1);
  require_float32_inputs(ctx);
  const Shape& x = ctx.input_shape(0);
  if (x.size() < 3)
    ctx.fail_shape("input '" + ctx.input(0).name + "' has " + std::to_string(x.size()) +
                   " dims, expected at least 3 (N, C, spatial...)");
  Shape out = x;
  std::fill(out.begin() + 2, out.end(), 1);
  ctx.set_output(0, DType::Float32, out);
}

}  // namespace metalnn
