// GatherND, ScatterND and ScatterElements schemas. Index values may be known only at run time, so the
// kernels check their range (negative values count from the end of their dim).
#include "core/ops/scatter_gather_nd.h"

#include <algorithm>

#include "core/ops/tensor_checks.h"

namespace metalnn {

IndexTuples index_tuples(const Shape& data, const Shape& indices, int64_t batch_dims) {
  IndexTuples t;
  t.k = indices.back();
  const std::vector<int64_t> strides = shape_strides(data);
  for (int64_t d = 0; d < batch_dims; ++d) t.batch *= indices[size_t(d)];
  t.tuples = 1;
  for (size_t d = size_t(batch_dims); d + 1 < indices.size(); ++d) t.tuples *= indices[d];
  for (int64_t j = 0; j < t.k; ++j) {
    t.dims.push_back(data[size_t(batch_dims + j)]);
    t.strides.push_back(strides[size_t(batch_dims + j)]);
  }
  for (size_t d = size_t(batch_dims + t.k); d < data.size(); ++d) t.slice *= data[d];
  t.batch_stride = batch_dims > 0 ? strides[size_t(batch_dims - 1)] : 0;
  return t;
}

ScatterReduction scatter_reduction(const Node& n) {
  const std::string r = n.attrs.get_string("reduction", "none");
  if (r == "add") return ScatterReduction::Add;
  if (r == "mul") return ScatterReduction::Mul;
  if (r == "max") return ScatterReduction::Max;
  if (r == "min") return ScatterReduction::Min;
  if (r == "none") return ScatterReduction::None;
  throw ModelError(n.label() + ": reduction '" + r + "' is not none, add, mul, max or min");
}

namespace {

// Reductions do arithmetic, on the dtypes the engine computes with.
void check_reduction(InferContext& ctx) {
  if (scatter_reduction(ctx.node()) != ScatterReduction::None)
    require_dtype(ctx, 0, {DType::Float32, DType::Float16, DType::Int32, DType::Int64});
  require_same_dtype(ctx, 2, 0);
}

// The (data, indices, updates) inputs both scatters take, with the checks they share.
struct ScatterOperands {
  const Shape& data;
  const Shape& indices;
  const Shape& updates;
};

ScatterOperands scatter_operands(InferContext& ctx) {
  ctx.check_inputs(3, 3);
  require_dtype(ctx, 1, {DType::Int64, DType::Int32});
  check_reduction(ctx);
  return {ctx.input_shape(0), ctx.input_shape(1), ctx.input_shape(2)};
}

}  // namespace

void infer_gather_nd(InferContext& ctx) {
  ctx.check_inputs(2, 2);
  require_dtype(ctx, 1, {DType::Int64, DType::Int32});
  const Shape& data = ctx.input_shape(0);
  const Shape& indices = ctx.input_shape(1);
  const int64_t b = ctx.attrs().get_int("batch_dims", 0);
  const int64_t r = int64_t(data.size()), q = int64_t(indices.size());
  if (r < 1 || q < 1) ctx.fail_shape("data and indices need rank >= 1");
  if (b < 0 || b >= std::min(r, q)) ctx.fail_model("batch_dims " + std::to_string(b) + " is not below both ranks");
  for (int64_t d = 0; d < b; ++d)
    if (data[size_t(d)] != indices[size_t(d)])
      ctx.fail_shape("indices " + shape_str(indices) + " and data " + shape_str(data) + " differ in batch dim " +
                     std::to_string(d));
  const int64_t k = indices.back();
  if (k < 1 || k > r - b)
    ctx.fail_shape("indices '" + ctx.input(1).name + "' " + shape_str(indices) + " has tuples of " + std::to_string(k) +
                   ", expected 1 to " + std::to_string(r - b));
  Shape out(indices.begin(), indices.end() - 1);
  out.insert(out.end(), data.begin() + b + k, data.end());
  ctx.set_output(0, ctx.input_dtype(0), out);
}

void infer_scatter_nd(InferContext& ctx) {
  const auto [data, indices, updates] = scatter_operands(ctx);
  if (data.empty() || indices.empty()) ctx.fail_shape("data and indices need rank >= 1");
  const int64_t k = indices.back();
  if (k < 1 || k > int64_t(data.size()))
    ctx.fail_shape("indices '" + ctx.input(1).name + "' " + shape_str(indices) + " has tuples of " + std::to_string(k) +
                   ", expected 1 to " + std::to_string(data.size()));
  Shape expected(indices.begin(), indices.end() - 1);
  expected.insert(expected.end(), data.begin() + k, data.end());
  if (updates != expected)
    ctx.fail_shape("updates '" + ctx.input(2).name + "' " + shape_str(updates) + ", expected " + shape_str(expected));
  ctx.set_output(0, ctx.input_dtype(0), data);
}

void infer_scatter_elements(InferContext& ctx) {
  const auto [data, indices, updates] = scatter_operands(ctx);
  if (data.empty()) ctx.fail_shape("data '" + ctx.input(0).name + "' is a scalar; ScatterElements needs rank >= 1");
  if (updates != indices)
    ctx.fail_shape("updates " + shape_str(updates) + " and indices " + shape_str(indices) + " differ in shape");
  if (indices.size() != data.size())
    ctx.fail_shape("indices " + shape_str(indices) + " and data " + shape_str(data) + " differ in rank");
  const int axis = ctx.normalize_axis(ctx.attrs().get_int("axis", 0), int(data.size()));
  for (size_t d = 0; d < data.size(); ++d)
    if (int(d) != axis && indices[d] > data[d])
      ctx.fail_shape("indices " + shape_str(indices) + " exceed data " + shape_str(data) + " along axis " +
                     std::to_string(d));
  ctx.set_output(0, ctx.input_dtype(0), data);
}

}  // namespace metalnn
