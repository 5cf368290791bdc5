// BatchNormalization (inference mode, channel dim 1, any rank >= 2) and LRN (across channels) schemas.
#include "core/ops/nn_checks.h"

namespace metalnn {

void infer_batch_norm(InferContext& ctx) {
  ctx.check_inputs(5, 5);
  require_float32_inputs(ctx);
  if (ctx.attrs().get_int("training_mode", 0) != 0)
    ctx.fail_unsupported("training_mode=1 is not supported; only inference mode");
  for (int i = 1; i < ctx.num_outputs(); ++i)
    if (ctx.has_output(i))
      ctx.fail_unsupported("output " + std::to_string(i) + " (training statistics) is not supported in inference mode");
  const Shape& x = ctx.input_shape(0);
  if (x.size() < 2)
    ctx.fail_shape("input '" + ctx.input(0).name + "' has " + std::to_string(x.size()) + " dims, expected at least 2");
  static const char* kNames[] = {"", "scale", "B", "input_mean", "input_var"};
  for (int i = 1; i < 5; ++i) {
    const Shape& s = ctx.input_shape(i);
    if (s.size() != 1 || s[0] != x[1])
      ctx.fail_shape(std::string(kNames[i]) + " '" + ctx.input(i).name + "' has shape " + shape_str(s) + ", expected [" +
                     std::to_string(x[1]) + "] (channels of input " + shape_str(x) + ")");
  }
  if (ctx.attrs().get_float("epsilon", 1e-5f) < 0.f) ctx.fail_model("epsilon must be >= 0");
  ctx.set_output(0, DType::Float32, x);
}

void infer_lrn(InferContext& ctx) {
  ctx.check_inputs(1, 1);
  require_float32_inputs(ctx);
  const Shape& x = ctx.input_shape(0);
  if (x.size() < 2)
    ctx.fail_shape("input '" + ctx.input(0).name + "' has " + std::to_string(x.size()) + " dims, expected at least 2");
  if (!ctx.attrs().has("size")) ctx.fail_model("attribute size is required");
  const int64_t size = ctx.attrs().get_int("size", 0);
  if (size < 1) ctx.fail_model("size " + std::to_string(size) + " must be >= 1");
  ctx.set_output(0, DType::Float32, x);
}

}  // namespace metalnn
