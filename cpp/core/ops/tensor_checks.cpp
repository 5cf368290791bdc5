#include "core/ops/tensor_checks.h"

#include <algorithm>

namespace metalnn {

namespace {
std::string input_desc(const InferContext& ctx, int i) {
  return "input " + std::to_string(i) + " '" + ctx.input(i).name + "'";
}
}  // namespace

void require_dtype(const InferContext& ctx, int i, std::initializer_list<DType> allowed) {
  const DType t = ctx.input_dtype(i);
  if (std::find(allowed.begin(), allowed.end(), t) != allowed.end()) return;
  std::string expected;
  size_t k = 0;
  for (DType a : allowed) {
    if (k) expected += (k + 1 == allowed.size()) ? " or " : ", ";
    expected += dtype_name(a);
    ++k;
  }
  ctx.fail_dtype(input_desc(ctx, i) + " is " + dtype_name(t) + ", expected " + expected);
}

void require_same_dtype(const InferContext& ctx, int i, int ref) {
  if (!ctx.has_input(i) || ctx.input_dtype(i) == ctx.input_dtype(ref)) return;
  ctx.fail_dtype(input_desc(ctx, i) + " is " + dtype_name(ctx.input_dtype(i)) + ", expected " +
                 dtype_name(ctx.input_dtype(ref)) + " like " + input_desc(ctx, ref));
}

std::vector<int64_t> require_int_constant(const InferContext& ctx, int i, const char* what) {
  const Tensor& t = ctx.require_constant(i, what);
  if (t.dtype() != DType::Int64 && t.dtype() != DType::Int32)
    ctx.fail_dtype(std::string(what) + " " + input_desc(ctx, i) + " is " + dtype_name(t.dtype()) +
                   ", expected int64");
  return t.to_int_vector();
}

void require_unique_axes(const InferContext& ctx, const std::vector<int>& axes, const char* what) {
  std::vector<int> sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  auto dup = std::adjacent_find(sorted.begin(), sorted.end());
  if (dup != sorted.end()) ctx.fail_model(std::string(what) + " repeat axis " + std::to_string(*dup));
}

}  // namespace metalnn
