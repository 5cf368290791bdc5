// ReduceMean/Sum/Max/Min/Prod/L2/LogSumExp schemas: reduce over the given axes (all when none), keeping
// them as size-1 dims when keepdims (default 1). An empty reduction gives 0 (Sum, L2), 1 (Prod), NaN
// (Mean), -inf (LogSumExp), the lowest/highest value (Max/Min).
#include "core/ops/reduce.h"

#include "core/ops/tensor_checks.h"

namespace metalnn {

namespace {
std::vector<int64_t> axes_list(const Tensor* axes_input, const Attributes& attrs) {
  return axes_input ? axes_input->to_int_vector() : attrs.get_ints("axes");
}
}  // namespace

std::vector<char> reduced_axes(int rank, const Tensor* axes_input, const Attributes& attrs) {
  const std::vector<int64_t> axes = axes_list(axes_input, attrs);
  if (axes.empty()) return std::vector<char>(rank, attrs.get_int("noop_with_empty_axes", 0) ? 0 : 1);
  std::vector<char> mask(rank, 0);
  for (int64_t a : axes) mask[a < 0 ? a + rank : a] = 1;
  return mask;
}

void infer_reduce(InferContext& ctx) {
  ctx.check_inputs(1, 2);
  const std::string& op = ctx.node().op_type;
  if (op == "ReduceMax" || op == "ReduceMin")  // on bool: any / all
    require_dtype(ctx, 0, {DType::Float32, DType::Int64, DType::Int32, DType::Bool});
  else if (op == "ReduceL2" || op == "ReduceLogSumExp")
    require_dtype(ctx, 0, {DType::Float32});
  else
    require_dtype(ctx, 0, kNumericDtypes);
  const Shape& in = ctx.input_shape(0);
  const int rank = static_cast<int>(in.size());
  const Tensor* axes_input = nullptr;
  if (ctx.has_input(1)) {
    require_int_constant(ctx, 1, "axes");
    axes_input = ctx.constant_input(1);
  }
  std::vector<int> normalized;
  for (int64_t a : axes_list(axes_input, ctx.attrs())) normalized.push_back(ctx.normalize_axis(a, rank));
  require_unique_axes(ctx, normalized, "axes");

  const std::vector<char> mask = reduced_axes(rank, axes_input, ctx.attrs());
  const bool keepdims = ctx.attrs().get_int("keepdims", 1) != 0;
  Shape out;
  for (int i = 0; i < rank; ++i) {
    if (!mask[i]) out.push_back(in[i]);
    else if (keepdims) out.push_back(1);
  }
  ctx.set_output(0, ctx.input_dtype(0), out);
}

}  // namespace metalnn
