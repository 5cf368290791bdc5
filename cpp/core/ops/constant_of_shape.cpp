// ConstantOfShape schema: a tensor of the constant shape input, filled with the one-element `value`
// attribute (float32 0 when absent), whose dtype it takes.
#include "core/ops/tensor_checks.h"

namespace metalnn {

void infer_constant_of_shape(InferContext& ctx) {
  ctx.check_inputs(1, 1);
  const std::vector<int64_t> shape = require_int_constant(ctx, 0, "shape");
  DType dtype = DType::Float32;
  if (const Attribute* value = ctx.attrs().find("value")) {
    if (value->kind != Attribute::Kind::Tensor) ctx.fail_model("attribute 'value' must be a tensor");
    if (value->t.numel() != 1)
      ctx.fail_model("attribute 'value' has shape " + shape_str(value->t.shape()) + ", expected one element");
    dtype = value->t.dtype();
  }
  for (int64_t d : shape)
    if (d < 0) ctx.fail_shape("shape " + shape_str(shape) + " has a negative dim");
  ctx.set_output(0, dtype, shape);
}

}  // namespace metalnn
