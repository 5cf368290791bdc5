// Range schema: start, limit and delta are constant scalars, so the length is known at load time:
// max(ceil((limit - start) / delta), 0).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/ops/tensor_checks.h"

namespace metalnn {

void infer_range(InferContext& ctx) {
  ctx.check_inputs(3, 3);
  require_dtype(ctx, 0, kNumericDtypes);
  static const char* const kNames[] = {"start", "limit", "delta"};
  double v[3];
  for (int i = 0; i < 3; ++i) {
    require_same_dtype(ctx, i, 0);
    const Tensor& t = ctx.require_constant(i, kNames[i]);
    if (t.numel() != 1)
      ctx.fail_shape(std::string(kNames[i]) + " has shape " + shape_str(t.shape()) + ", expected a scalar");
    v[i] = t.float_at(0);
  }
  if (v[2] == 0) ctx.fail_model("delta must be nonzero");
  int64_t n;
  if (ctx.input_dtype(0) == DType::Float32) {
    // In float32, as the spec and ONNX Runtime compute it (doubles round some lengths differently).
    const float f[3] = {static_cast<float>(v[0]), static_cast<float>(v[1]), static_cast<float>(v[2])};
    const double len = std::ceil((f[1] - f[0]) / f[2]);
    if (!(len < 1e15)) ctx.fail_shape("start, limit and delta give " + std::to_string(len) + " elements");
    n = static_cast<int64_t>(std::max(len, 0.0));
  } else {
    // Exact integer arithmetic: doubles lose precision past 2^53.
    const Tensor* c[3] = {ctx.constant_input(0), ctx.constant_input(1), ctx.constant_input(2)};
    const int64_t start = c[0]->int_at(0), limit = c[1]->int_at(0), delta = c[2]->int_at(0);
    int64_t span;
    if (__builtin_sub_overflow(limit, start, &span))
      ctx.fail_shape("start " + std::to_string(start) + " and limit " + std::to_string(limit) + " give more than 2^63 elements");
    // delta == -1 with span == INT64_MIN would overflow the division; the length is then huge anyway.
    if (delta == -1 && span == INT64_MIN) ctx.fail_shape("start, limit and delta give more than 2^63 elements");
    n = span / delta + ((span % delta != 0) && ((span > 0) == (delta > 0)) ? 1 : 0);
  }
  ctx.set_output(0, ctx.input_dtype(0), {std::max<int64_t>(n, 0)});
}

}  // namespace metalnn
