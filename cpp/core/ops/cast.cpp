// Cast schema: same shape, element type from the `to` attribute (any type the engine stores);
// CastLike takes it from its second input.
#include "core/ops/tensor_checks.h"

namespace metalnn {

void infer_cast(InferContext& ctx) {
  ctx.check_inputs(1, 1);
  if (!ctx.attrs().has("to")) ctx.fail_model("attribute 'to' is required");
  DType to;
  try {
    to = dtype_from_onnx(static_cast<int>(ctx.attrs().get_int("to", 0)));
  } catch (const DtypeError& e) {
    ctx.fail_dtype(std::string("attribute 'to': ") + e.what());
  }
  if (ctx.input_dtype(0) == DType::Undefined) ctx.fail_dtype("input 0 '" + ctx.input(0).name + "' has no dtype");
  ctx.set_output(0, to, ctx.input_shape(0));
}

// CastLike: Cast to the dtype of input 1 (only its dtype is read).
void infer_cast_like(InferContext& ctx) {
  ctx.check_inputs(2, 2);
  for (int i = 0; i < 2; ++i)
    if (ctx.input_dtype(i) == DType::Undefined)
      ctx.fail_dtype("input " + std::to_string(i) + " '" + ctx.input(i).name + "' has no dtype");
  ctx.set_output(0, ctx.input_dtype(1), ctx.input_shape(0));
}

}  // namespace metalnn
