// Shape and Size schemas: int64 facts about the input's shape (its data is never read).
#include "core/ops/shape.h"

#include <algorithm>

#include "core/ops/tensor_checks.h"

namespace metalnn {

std::pair<int64_t, int64_t> shape_dim_range(const Attributes& attrs, int rank) {
  auto clamp = [rank](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + rank : i, 0, rank); };
  const int64_t start = clamp(attrs.get_int("start", 0));
  const int64_t end = clamp(attrs.get_int("end", rank));
  return {start, std::max(start, end)};
}

void infer_shape(InferContext& ctx) {
  ctx.check_inputs(1, 1);
  const auto [start, end] = shape_dim_range(ctx.attrs(), ctx.input_rank(0));
  ctx.set_output(0, DType::Int64, {end - start});
}

void infer_size(InferContext& ctx) {
  ctx.check_inputs(1, 1);
  ctx.set_output(0, DType::Int64, {});
}

}  // namespace metalnn
