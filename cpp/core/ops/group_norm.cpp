// InstanceNormalization and GroupNormalization schemas (float32, computed in float32 whatever
// GroupNormalization's stash_type). GroupNormalization-18 scales per group; the importer marks that
// form with `_per_group_scale` (python/metalnn/onnx_import.py), the opset-21 form scales per channel.
#include "core/ops/group_norm.h"

#include "core/ops/nn_checks.h"

namespace metalnn {

namespace {

bool is_instance_norm(const Node& n) { return n.op_type == "InstanceNormalization"; }
bool per_group_scale(const Node& n) { return n.attrs.get_int("_per_group_scale", 0) != 0; }

// Fails unless input i (Scale or B) is 1-D of `expected` elements.
void check_param(const InferContext& ctx, int i, int64_t expected, const std::string& per) {
  const Shape& s = ctx.input_shape(i);
  if (s.size() != 1 || s[0] != expected)
    ctx.fail_shape(std::string(i == 1 ? "scale" : "B") + " '" + ctx.input(i).name + "' has shape " + shape_str(s) +
                   ", expected [" + std::to_string(expected) + "] (one value per " + per + ")");
}

}  // namespace

GroupNormView group_norm_view(const Node& n, const Shape& x) {
  GroupNormView v;
  const int64_t channels = x[1];
  int64_t spatial = 1;
  for (size_t d = 2; d < x.size(); ++d) spatial *= x[d];
  v.groups = is_instance_norm(n) ? channels : n.attrs.get_int("num_groups", 1);
  v.rows = x[0] * v.groups;
  v.width = v.groups > 0 ? channels / v.groups * spatial : 0;
  v.span = per_group_scale(n) ? v.width : spatial;
  v.epsilon = n.attrs.get_float("epsilon", 1e-5f);
  return v;
}

void infer_group_norm(InferContext& ctx) {
  ctx.check_inputs(3, 3);
  require_float32_inputs(ctx);
  const Shape& x = ctx.input_shape(0);
  if (x.size() < 3)
    ctx.fail_shape("input '" + ctx.input(0).name + "' has " + std::to_string(x.size()) +
                   " dims, expected at least 3 (N, C, spatial...)");
  const int64_t channels = x[1];
  if (is_instance_norm(ctx.node())) {
    check_param(ctx, 1, channels, "channel");
    check_param(ctx, 2, channels, "channel");
  } else {
    const int64_t groups = ctx.attrs().get_int("num_groups", 0);
    if (groups < 1) ctx.fail_model("num_groups " + std::to_string(groups) + " is not positive");
    if (channels % groups != 0)
      ctx.fail_shape("input '" + ctx.input(0).name + "' has " + std::to_string(channels) +
                     " channels, not a multiple of num_groups " + std::to_string(groups));
    const int64_t stash = ctx.attrs().get_int("stash_type", 1);
    if (stash != 1 && stash != 10 && stash != 11 && stash != 16)
      ctx.fail_model("stash_type " + std::to_string(stash) + " is not a floating-point type");
    const bool per_group = per_group_scale(ctx.node());
    check_param(ctx, 1, per_group ? groups : channels, per_group ? "group" : "channel");
    check_param(ctx, 2, per_group ? groups : channels, per_group ? "group" : "channel");
  }
  const float epsilon = ctx.attrs().get_float("epsilon", 1e-5f);
  if (!(epsilon >= 0)) ctx.fail_model("epsilon " + std::to_string(epsilon) + " is negative");
  ctx.set_output(0, DType::Float32, x);
}

}  // namespace metalnn
