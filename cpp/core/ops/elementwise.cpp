// Schemas of the elementwise ops: unary math and activations (same shape out), binary arithmetic with
// NumPy broadcasting (Min/Max/Sum/Mean variadic, PRelu broadcasting its slope to X only), comparisons (bool out)
// and the logical ops on bool. Sum/Mean are variadic Add (Mean divides by the input count); IsNaN and
// IsInf give bool.
#include <climits>

#include "core/ops/broadcast.h"
#include "core/ops/tensor_checks.h"

namespace metalnn {

namespace {
bool is_one_of(const std::string& op, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (op == n) return true;
  return false;
}
}  // namespace

void infer_unary(InferContext& ctx) {
  const std::string& op = ctx.node().op_type;
  if (op == "Clip") {
    ctx.check_inputs(1, 3);
    for (int i = 1; i <= 2; ++i) {
      if (!ctx.has_input(i)) continue;
      require_same_dtype(ctx, i, 0);
      if (shape_numel(ctx.input_shape(i)) != 1)
        ctx.fail_shape(std::string(i == 1 ? "min" : "max") + " '" + ctx.input(i).name + "' has shape " +
                       shape_str(ctx.input_shape(i)) + ", expected a scalar");
    }
  } else {
    ctx.check_inputs(1, 1);
  }
  if (op == "Gelu") {
    const std::string approximate = ctx.attrs().get_string("approximate", "none");
    if (approximate != "none" && approximate != "tanh")
      ctx.fail_model("approximate is '" + approximate + "', expected 'none' or 'tanh'");
  }
  if (op == "Not")
    require_dtype(ctx, 0, {DType::Bool});
  else if (is_one_of(op, {"Neg", "Abs"}))
    require_dtype(ctx, 0, kNumericDtypes);
  else
    require_dtype(ctx, 0, {DType::Float32});
  const bool predicate = is_one_of(op, {"IsNaN", "IsInf"});
  ctx.set_output(0, predicate ? DType::Bool : ctx.input_dtype(0), ctx.input_shape(0));
}

void infer_broadcast_binary(InferContext& ctx) {
  const std::string& op = ctx.node().op_type;
  if (is_one_of(op, {"Min", "Max", "Sum", "Mean"}))
    ctx.check_inputs(1, INT_MAX);
  else
    ctx.check_inputs(2, 2);
  for (int i = 0; i < ctx.num_inputs(); ++i)
    if (!ctx.has_input(i)) ctx.fail_model("input " + std::to_string(i) + " is required");

  if (is_one_of(op, {"PRelu", "Sum", "Mean"})) {
    require_dtype(ctx, 0, {DType::Float32});
    for (int i = 1; i < ctx.num_inputs(); ++i) require_same_dtype(ctx, i, 0);
  } else if (op == "Pow") {
    // The exponent may have its own type (x ** 2 exported with an int64 exponent).
    require_dtype(ctx, 0, kNumericDtypes);
    require_dtype(ctx, 1, kNumericDtypes);
  } else {
    require_dtype(ctx, 0, kNumericDtypes);
    for (int i = 1; i < ctx.num_inputs(); ++i) require_same_dtype(ctx, i, 0);
  }

  if (op == "Mod" && ctx.attrs().get_int("fmod", 0) != 0 && ctx.attrs().get_int("fmod", 0) != 1)
    ctx.fail_model("fmod must be 0 or 1");
  Shape out = broadcast_input_shapes(ctx);
  if (op == "PRelu" && out != ctx.input_shape(0))
    ctx.fail_shape("slope '" + ctx.input(1).name + "' " + shape_str(ctx.input_shape(1)) +
                   " does not broadcast to X " + shape_str(ctx.input_shape(0)));
  ctx.set_output(0, ctx.input_dtype(0), out);
}

void infer_comparison(InferContext& ctx) {
  ctx.check_inputs(2, 2);
  if (ctx.node().op_type == "Equal")
    require_dtype(ctx, 0, {DType::Float32, DType::Int64, DType::Int32, DType::Bool});
  else
    require_dtype(ctx, 0, kNumericDtypes);
  require_same_dtype(ctx, 1, 0);
  ctx.set_output(0, DType::Bool, broadcast_input_shapes(ctx));
}

void infer_logical(InferContext& ctx) {
  ctx.check_inputs(2, 2);
  require_dtype(ctx, 0, {DType::Bool});
  require_same_dtype(ctx, 1, 0);
  ctx.set_output(0, DType::Bool, broadcast_input_shapes(ctx));
}

}  // namespace metalnn
