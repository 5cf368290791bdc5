// Conv schema: ONNX Conv (groups, strides, pads, dilations, auto_pad, optional bias) over 1-D and 2-D
// inputs; fused activations (_activation) do not change the shape, and a fused residual (_residual)
// is a fourth input of the output's shape.
#include "core/ops/nn_checks.h"
#include "core/ops/window.h"

namespace metalnn {

void infer_conv(InferContext& ctx) {
  const bool residual = ctx.attrs().get_int("_residual", 0) != 0;
  ctx.check_inputs(2, residual ? 4 : 3);  // a residual Conv may have no bias (input 2 omitted)
  require_float32_inputs(ctx);
  require_1d_or_2d(ctx, "convolution");
  const Shape& x = ctx.input_shape(0);
  const Shape& w = ctx.input_shape(1);
  const int rank = static_cast<int>(x.size());
  ctx.check_rank(1, rank, "weight");

  const int64_t group = ctx.attrs().get_int("group", 1);
  if (group < 1) ctx.fail_model("group " + std::to_string(group) + " must be >= 1");
  const int64_t channels = x[1], out_channels = w[0];
  if (channels < 1) ctx.fail_shape("input " + shape_str(x) + " has no channels");
  if (channels % group != 0)
    ctx.fail_shape("input has " + std::to_string(channels) + " channels, not divisible by group " +
                   std::to_string(group));
  if (w[1] * group != channels)
    ctx.fail_shape("weight " + shape_str(w) + " expects " + std::to_string(w[1] * group) +
                   " input channels (C/group = " + std::to_string(w[1]) + ", group " + std::to_string(group) +
                   ") but input " + shape_str(x) + " has " + std::to_string(channels));
  if (out_channels < 1 || out_channels % group != 0)
    ctx.fail_shape("weight has " + std::to_string(out_channels) + " output channels, not a positive multiple of group " +
                   std::to_string(group));
  if (ctx.has_input(2)) {
    const Shape& b = ctx.input_shape(2);
    if (b.size() != 1 || b[0] != out_channels)
      ctx.fail_shape("bias has shape " + shape_str(b) + ", expected [" + std::to_string(out_channels) + "]");
  }

  std::vector<int64_t> kernel(w.begin() + 2, w.end());
  if (ctx.attrs().has("kernel_shape") && ctx.attrs().get_ints("kernel_shape") != kernel)
    ctx.fail_shape("kernel_shape " + shape_str(ctx.attrs().get_ints("kernel_shape")) +
                   " does not match weight " + shape_str(w));
  Window win = resolve_window(ctx.node(), std::vector<int64_t>(x.begin() + 2, x.end()), kernel, false);

  Shape out = {x[0], out_channels};
  out.insert(out.end(), win.out.begin(), win.out.end());
  if (residual && !ctx.has_input(3)) ctx.fail_model("_residual is set but the residual input is missing");
  if (residual && ctx.input_shape(3) != out)
    ctx.fail_shape("residual " + shape_str(ctx.input_shape(3)) + " does not match the output " + shape_str(out));
  ctx.set_output(0, DType::Float32, out);
}

}  // namespace metalnn
