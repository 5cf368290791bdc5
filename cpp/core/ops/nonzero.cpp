// NonZero schema: the coordinates of the nonzero elements of a tensor of any dtype, int64
// [rank, count] in row-major order (a scalar counts as rank 1). The count is known only once the
// kernel has run: the output is inferred at its upper bound, [rank, numel], and the kernel pads the
// columns past the count with -1 (see data_dependent_axis).
#include <algorithm>

#include "core/ops/tensor_checks.h"

namespace metalnn {

void infer_nonzero(InferContext& ctx) {
  ctx.check_inputs(1, 1);
  const Shape& x = ctx.input_shape(0);
  const int64_t rank = std::max<int64_t>(1, int64_t(x.size()));
  ctx.set_output(0, DType::Int64, {rank, shape_numel(x)});
}

}  // namespace metalnn
