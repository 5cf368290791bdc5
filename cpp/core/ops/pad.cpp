// Pad schema (opset 11+ input form): constant pads, optional constant_value (scalar, data's dtype) and
// optional axes (opset 18); modes constant, reflect and edge.
#include "core/ops/pad.h"

#include <algorithm>

#include "core/ops/tensor_checks.h"
#include "core/sizes.h"

namespace metalnn {

PadAmounts resolve_pads(int rank, const std::vector<int64_t>& pads, const std::vector<int64_t>& axes) {
  PadAmounts p;
  p.before.assign(rank, 0);
  p.after.assign(rank, 0);
  const size_t n = pads.size() / 2;
  for (size_t i = 0; i < n; ++i) {
    const int64_t axis = axes.empty() ? static_cast<int64_t>(i) : (axes[i] < 0 ? axes[i] + rank : axes[i]);
    p.before[axis] = pads[i];
    p.after[axis] = pads[n + i];
  }
  return p;
}

bool parse_pad_mode(const std::string& name, PadMode* mode) {
  if (name == "constant") *mode = PadMode::Constant;
  else if (name == "reflect") *mode = PadMode::Reflect;
  else if (name == "edge") *mode = PadMode::Edge;
  else return false;
  return true;
}

void infer_pad(InferContext& ctx) {
  ctx.check_inputs(2, 4);
  const std::string mode_name = ctx.attrs().get_string("mode", "constant");
  PadMode mode;
  if (!parse_pad_mode(mode_name, &mode))
    ctx.fail_unsupported("mode '" + mode_name + "' is not supported (constant, reflect, edge)");
  const Shape& in = ctx.input_shape(0);
  const int rank = static_cast<int>(in.size());
  const std::vector<int64_t> pads = require_int_constant(ctx, 1, "pads");
  std::vector<int64_t> axes;
  if (ctx.has_input(3)) {
    axes = require_int_constant(ctx, 3, "axes");
    std::vector<int> normalized;
    for (int64_t a : axes) normalized.push_back(ctx.normalize_axis(a, rank));
    require_unique_axes(ctx, normalized, "axes");
  }
  const size_t axis_count = ctx.has_input(3) ? axes.size() : static_cast<size_t>(rank);
  if (pads.size() != 2 * axis_count)
    ctx.fail_model("pads has " + std::to_string(pads.size()) + " values, expected " + std::to_string(2 * axis_count) +
                   " for input " + shape_str(in));
  if (ctx.has_input(2)) {
    require_same_dtype(ctx, 2, 0);
    if (shape_numel(ctx.input_shape(2)) != 1)
      ctx.fail_shape("constant_value '" + ctx.input(2).name + "' has shape " + shape_str(ctx.input_shape(2)) +
                     ", expected a scalar");
  }

  const PadAmounts amounts = resolve_pads(rank, pads, axes);
  Shape out(rank);
  for (int i = 0; i < rank; ++i) {
    const int64_t grow = std::max(amounts.before[i], amounts.after[i]);
    if (mode == PadMode::Reflect && grow > 0 && grow > in[i] - 1)
      ctx.fail_shape("reflect padding of " + std::to_string(grow) + " on axis " + std::to_string(i) + " of " +
                     shape_str(in) + " needs a dim larger than the padding");
    if (mode == PadMode::Edge && grow > 0 && in[i] == 0)
      ctx.fail_shape("edge padding of the empty axis " + std::to_string(i) + " of " + shape_str(in));
    if (!checked_add(in[i], amounts.before[i], &out[i]) || !checked_add(out[i], amounts.after[i], &out[i]))
      ctx.fail_shape("pads " + shape_str(pads) + " overflow axis " + std::to_string(i) + " of " + shape_str(in));
    if (out[i] < 0)
      ctx.fail_shape("pads " + shape_str(pads) + " crop more than axis " + std::to_string(i) + " of " + shape_str(in) +
                     " holds");
  }
  ctx.set_output(0, ctx.input_dtype(0), out);
}

}  // namespace metalnn
