// Gather schema: out = data[:axis] + indices.shape + data[axis+1:]; indices may be negative (checked
// against the axis size by the kernel, since they may be known only at run time).
#include "core/ops/tensor_checks.h"

namespace metalnn {

void infer_gather(InferContext& ctx) {
  ctx.check_inputs(2, 2);
  require_dtype(ctx, 1, {DType::Int64, DType::Int32});
  const Shape& data = ctx.input_shape(0);
  const int rank = static_cast<int>(data.size());
  if (rank == 0) ctx.fail_shape("data '" + ctx.input(0).name + "' is a scalar; Gather needs rank >= 1");
  const int axis = ctx.normalize_axis(ctx.attrs().get_int("axis", 0), rank);
  // Constant indices are checked here so a bad model fails at load time.
  if (const Tensor* idx = ctx.constant_input(1)) {
    for (int64_t i = 0; i < idx->numel(); ++i) {
      const int64_t v = idx->int_at(i);
      if (v < -data[axis] || v >= data[axis])
        ctx.fail_shape("index " + std::to_string(v) + " is out of range for axis " + std::to_string(axis) + " of " +
                       shape_str(data));
    }
  }
  Shape out(data.begin(), data.begin() + axis);
  const Shape& indices = ctx.input_shape(1);
  out.insert(out.end(), indices.begin(), indices.end());
  out.insert(out.end(), data.begin() + axis + 1, data.end());
  ctx.set_output(0, ctx.input_dtype(0), out);
}

}  // namespace metalnn
