// Where schema: out = condition ? X : Y, the three inputs broadcast together (NumPy rules).
#include "core/ops/broadcast.h"
#include "core/ops/tensor_checks.h"

namespace metalnn {

void infer_where(InferContext& ctx) {
  ctx.check_inputs(3, 3);
  require_dtype(ctx, 0, {DType::Bool});
  require_same_dtype(ctx, 2, 1);
  ctx.set_output(0, ctx.input_dtype(1), broadcast_input_shapes(ctx));
}

}  // namespace metalnn
