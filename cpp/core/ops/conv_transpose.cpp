// ConvTranspose schema (1-D and 2-D): weight [C, M/group, k...], output channels M. Output size per
// spatial dim: stride * (in - 1) + output_padding + (k - 1) * dilation + 1 - pads; with output_shape
// (or SAME auto_pad, output = in * stride) the pads are derived from it as the spec says.
#include "core/ops/conv_transpose.h"

#include "core/ops/nn_checks.h"

namespace metalnn {

namespace {

std::vector<int64_t> per_dim(const Node& n, const char* name, int spatial, int64_t fallback) {
  std::vector<int64_t> v = n.attrs.get_ints(name, std::vector<int64_t>(spatial, fallback));
  if (static_cast<int>(v.size()) != spatial)
    throw ModelError(n.label() + ": " + name + " has " + std::to_string(v.size()) + " values, expected " +
                     std::to_string(spatial));
  return v;
}

}  // namespace

TransposedWindow resolve_transposed_window(const Node& n, const Shape& x, const Shape& w) {
  const int s = static_cast<int>(x.size()) - 2;
  TransposedWindow t;
  t.in.assign(x.begin() + 2, x.end());
  t.kernel.assign(w.begin() + 2, w.end());
  t.stride = per_dim(n, "strides", s, 1);
  t.dilation = per_dim(n, "dilations", s, 1);
  const std::vector<int64_t> output_padding = per_dim(n, "output_padding", s, 0);
  const std::vector<int64_t> pads = per_dim(n, "pads", 2 * s, 0);
  const std::string auto_pad = n.attrs.get_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER")
    throw ModelError(n.label() + ": auto_pad '" + auto_pad + "' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER");
  std::vector<int64_t> output_shape = n.attrs.get_ints("output_shape");
  if (output_shape.size() > static_cast<size_t>(s))  // may list N and C too
    output_shape.erase(output_shape.begin(), output_shape.end() - s);
  if (!output_shape.empty() && static_cast<int>(output_shape.size()) != s)
    throw ModelError(n.label() + ": output_shape has " + std::to_string(output_shape.size()) + " values, expected " +
                     std::to_string(s));
  const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";

  t.pad_begin.assign(s, 0);
  t.pad_end.assign(s, 0);
  t.out.assign(s, 0);
  for (int i = 0; i < s; ++i) {
    if (t.stride[i] < 1 || t.dilation[i] < 1 || t.kernel[i] < 1)
      throw ModelError(n.label() + ": strides, dilations and kernel sizes must be >= 1");
    const int64_t full = t.stride[i] * (t.in[i] - 1) + output_padding[i] + (t.kernel[i] - 1) * t.dilation[i] + 1;
    if (!output_shape.empty() || same) {
      const int64_t target = output_shape.empty() ? t.in[i] * t.stride[i] : output_shape[i];
      // The odd pad goes to the end for SAME_UPPER, to the start otherwise. A target larger than the
      // full output gives negative padding, i.e. extra outputs that only receive the bias.
      const int64_t total = full - target;
      const int64_t half = total >= 0 ? total / 2 : -((1 - total) / 2);  // floor(total / 2)
      t.pad_begin[i] = auto_pad == "SAME_UPPER" ? half : total - half;
      t.pad_end[i] = total - t.pad_begin[i];
    } else if (auto_pad == "NOTSET") {
      t.pad_begin[i] = pads[i];
      t.pad_end[i] = pads[i + s];
    }
    t.out[i] = full - t.pad_begin[i] - t.pad_end[i];
    if (t.out[i] < 1) throw ShapeError(n.label() + ": pads leave no output on spatial dim " + std::to_string(i));
  }
  return t;
}

void infer_conv_transpose(InferContext& ctx) {
  ctx.check_inputs(2, 3);
  require_float32_inputs(ctx);
  require_1d_or_2d(ctx, "transposed convolution");
  const Shape& x = ctx.input_shape(0);
  const Shape& w = ctx.input_shape(1);
  ctx.check_rank(1, static_cast<int>(x.size()), "weight");
  const int64_t group = ctx.attrs().get_int("group", 1);
  if (group < 1) ctx.fail_model("group " + std::to_string(group) + " must be >= 1");
  if (w[0] != x[1] || x[1] % group != 0)
    ctx.fail_shape("weight " + shape_str(w) + " expects " + std::to_string(w[0]) + " input channels in " +
                   std::to_string(group) + " groups but input " + shape_str(x) + " has " + std::to_string(x[1]));
  const int64_t out_channels = w[1] * group;
  if (ctx.has_input(2) && ctx.input_shape(2) != Shape{out_channels})
    ctx.fail_shape("bias has shape " + shape_str(ctx.input_shape(2)) + ", expected [" + std::to_string(out_channels) + "]");
  std::vector<int64_t> kernel(w.begin() + 2, w.end());
  if (ctx.attrs().has("kernel_shape") && ctx.attrs().get_ints("kernel_shape") != kernel)
    ctx.fail_shape("kernel_shape " + shape_str(ctx.attrs().get_ints("kernel_shape")) + " does not match weight " +
                   shape_str(w));
  const TransposedWindow t = resolve_transposed_window(ctx.node(), x, w);
  Shape out = {x[0], out_channels};
  out.insert(out.end(), t.out.begin(), t.out.end());
  ctx.set_output(0, DType::Float32, out);
}

}  // namespace metalnn
