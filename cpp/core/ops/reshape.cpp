// Schemas of the ops that only relabel the input's bytes with another shape: Reshape, Flatten,
// Squeeze, Unsqueeze, and Identity / inference-mode Dropout (same shape).
#include "core/ops/tensor_checks.h"
#include "core/sizes.h"

namespace metalnn {

namespace {

// Axes from input 1 (opset 13) or the older `axes` attribute; `present` says whether either exists.
std::vector<int64_t> axes_input_or_attribute(const InferContext& ctx, bool* present) {
  *present = true;
  if (ctx.has_input(1)) return require_int_constant(ctx, 1, "axes");
  if (ctx.attrs().has("axes")) return ctx.attrs().get_ints("axes");
  *present = false;
  return {};
}

}  // namespace

void infer_reshape(InferContext& ctx) {
  ctx.check_inputs(2, 2);
  const std::vector<int64_t> spec = require_int_constant(ctx, 1, "shape");
  const bool allow_zero = ctx.attrs().get_int("allowzero", 0) != 0;
  const Shape& in = ctx.input_shape(0);
  Shape out(spec.size());
  int infer_at = -1;
  int64_t known = 1;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == -1) {
      if (infer_at >= 0) ctx.fail_model("shape " + shape_str(spec) + " has more than one -1");
      infer_at = static_cast<int>(i);
      continue;
    }
    if (d == 0 && !allow_zero) {
      if (i >= in.size())
        ctx.fail_shape("shape " + shape_str(spec) + " copies dim " + std::to_string(i) + " (0) but input " +
                       shape_str(in) + " has only " + std::to_string(in.size()) + " dims");
      d = in[i];
    }
    if (d < 0) ctx.fail_model("shape " + shape_str(spec) + " has invalid dim " + std::to_string(d));
    out[i] = d;
    if (d > kMaxElements || !checked_mul(known, d, &known))
      ctx.fail_shape("shape " + shape_str(spec) + " has more than 2^40 elements");
  }
  const int64_t numel = shape_numel(in);
  if (infer_at >= 0) {
    if (known == 0 || numel % known != 0)
      ctx.fail_shape("cannot reshape " + shape_str(in) + " (" + std::to_string(numel) + " elements) to " +
                     shape_str(spec));
    out[infer_at] = numel / known;
  } else if (known != numel) {
    ctx.fail_shape("cannot reshape " + shape_str(in) + " (" + std::to_string(numel) + " elements) to " +
                   shape_str(out) + " (" + std::to_string(known) + " elements)");
  }
  ctx.set_output(0, ctx.input_dtype(0), out);
}

void infer_flatten(InferContext& ctx) {
  ctx.check_inputs(1, 1);
  const Shape& in = ctx.input_shape(0);
  const int rank = static_cast<int>(in.size());
  // axis lies in [-rank, rank]: it may equal rank (everything in the first dim).
  int64_t axis = ctx.attrs().get_int("axis", 1);
  if (axis < -rank || axis > rank)
    ctx.fail_model("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < rank; ++i) (i < axis ? outer : inner) *= in[i];
  ctx.set_output(0, ctx.input_dtype(0), {outer, inner});
}

void infer_squeeze(InferContext& ctx) {
  ctx.check_inputs(1, 2);
  const Shape& in = ctx.input_shape(0);
  const int rank = static_cast<int>(in.size());
  bool has_axes = false;
  const std::vector<int64_t> raw = axes_input_or_attribute(ctx, &has_axes);
  std::vector<char> drop(rank, 0);
  if (!has_axes || raw.empty()) {
    for (int i = 0; i < rank; ++i) drop[i] = in[i] == 1;
  } else {
    for (int64_t a : raw) {
      const int axis = ctx.normalize_axis(a, rank);
      if (in[axis] != 1)
        ctx.fail_shape("cannot squeeze axis " + std::to_string(a) + " of " + shape_str(in) + ": its size is " +
                       std::to_string(in[axis]) + ", not 1");
      drop[axis] = 1;
    }
  }
  Shape out;
  for (int i = 0; i < rank; ++i)
    if (!drop[i]) out.push_back(in[i]);
  ctx.set_output(0, ctx.input_dtype(0), out);
}

void infer_unsqueeze(InferContext& ctx) {
  ctx.check_inputs(1, 2);
  const Shape& in = ctx.input_shape(0);
  bool has_axes = false;
  const std::vector<int64_t> raw = axes_input_or_attribute(ctx, &has_axes);
  if (!has_axes) ctx.fail_model("axes are required");
  const int out_rank = static_cast<int>(in.size() + raw.size());
  std::vector<int> axes;
  for (int64_t a : raw) axes.push_back(ctx.normalize_axis(a, out_rank));
  require_unique_axes(ctx, axes, "axes");
  std::vector<char> inserted(out_rank, 0);
  for (int a : axes) inserted[a] = 1;
  Shape out(out_rank);
  size_t next = 0;
  for (int i = 0; i < out_rank; ++i) out[i] = inserted[i] ? 1 : in[next++];
  ctx.set_output(0, ctx.input_dtype(0), out);
}

void infer_identity(InferContext& ctx) {
  if (ctx.node().op_type == "Dropout") {
    ctx.check_inputs(1, 3);
    // training_mode (opset 12) switches random dropping on; inference only supports it off.
    if (ctx.has_input(2)) {
      const Tensor& mode = ctx.require_constant(2, "training_mode");
      if (mode.numel() != 1 || mode.int_at(0) != 0)
        ctx.fail_unsupported("training_mode must be false; only inference is supported");
    }
    // The optional mask output is all true in inference.
    ctx.set_output(1, DType::Bool, ctx.input_shape(0));
  } else {
    ctx.check_inputs(1, 1);
  }
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
}

}  // namespace metalnn
