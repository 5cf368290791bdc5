// Concat schema: inputs of equal rank and dtype, equal dims except along `axis`, where they add up.
#include <climits>

#include "core/ops/tensor_checks.h"

namespace metalnn {

void infer_concat(InferContext& ctx) {
  ctx.check_inputs(1, INT_MAX);
  if (!ctx.attrs().has("axis")) ctx.fail_model("attribute 'axis' is required");
  for (int i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) ctx.fail_model("input " + std::to_string(i) + " is required");
    require_same_dtype(ctx, i, 0);
  }
  const Shape& first = ctx.input_shape(0);
  const int rank = static_cast<int>(first.size());
  if (rank == 0) ctx.fail_shape("input 0 '" + ctx.input(0).name + "' is a scalar; Concat needs rank >= 1");
  const int axis = ctx.normalize_axis(ctx.attrs().get_int("axis", 0), rank);
  Shape out = first;
  for (int i = 1; i < ctx.num_inputs(); ++i) {
    const Shape& s = ctx.input_shape(i);
    bool ok = s.size() == first.size();
    for (int d = 0; ok && d < rank; ++d) ok = d == axis || s[d] == first[d];
    if (!ok)
      ctx.fail_shape("input " + std::to_string(i) + " '" + ctx.input(i).name + "' has shape " + shape_str(s) +
                     ", which does not match input 0 " + shape_str(first) + " outside axis " + std::to_string(axis));
    out[axis] += s[axis];
  }
  ctx.set_output(0, ctx.input_dtype(0), out);
}

}  // namespace metalnn
