// Cast schema: same shape, element type from the `to` attribute (any type the engine stores).
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

}  // namespace metalnn
