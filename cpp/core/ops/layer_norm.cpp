// LayerNormalization schema: normalises over the dims from `axis` (default -1) on; Scale and the
// optional B broadcast to those dims. The optional Mean and InvStdDev outputs keep the leading dims
// and have size 1 from `axis` on.
#include "core/ops/broadcast.h"
#include "core/ops/nn_checks.h"

namespace metalnn {

void infer_layer_norm(InferContext& ctx) {
  ctx.check_inputs(2, 3);
  require_float32_inputs(ctx);
  const Shape& x = ctx.input_shape(0);
  const int rank = static_cast<int>(x.size());
  if (rank == 0) ctx.fail_shape("input '" + ctx.input(0).name + "' is a scalar, expected at least 1 dim");
  const int axis = ctx.normalize_axis(ctx.attrs().get_int("axis", -1), rank);
  const Shape normalized(x.begin() + axis, x.end());
  for (int i = 1; i < ctx.num_inputs(); ++i) {
    Shape b;
    if (ctx.has_input(i) && (!try_broadcast_shapes(normalized, ctx.input_shape(i), &b) || b != normalized))
      ctx.fail_shape(std::string(i == 1 ? "Scale" : "B") + " '" + ctx.input(i).name + "' " +
                     shape_str(ctx.input_shape(i)) + " does not broadcast to the normalised dims " +
                     shape_str(normalized));
  }
  ctx.set_output(0, DType::Float32, x);
  Shape stats = x;
  for (int d = axis; d < rank; ++d) stats[d] = 1;
  ctx.set_output(1, DType::Float32, stats);
  ctx.set_output(2, DType::Float32, stats);
}

}  // namespace metalnn
