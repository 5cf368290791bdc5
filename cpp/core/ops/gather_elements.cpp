// GatherElements schema: out has the indices' shape and the data's dtype; out[i][j][k] reads data
// with the index value in place of the coordinate along `axis` (negative values count from the end;
// the kernel checks them, as they may be known only at run time).
#include "core/ops/tensor_checks.h"

namespace metalnn {

void infer_gather_elements(InferContext& ctx) {
  ctx.check_inputs(2, 2);
  require_dtype(ctx, 1, {DType::Int64, DType::Int32});
  const Shape& data = ctx.input_shape(0);
  const Shape& indices = ctx.input_shape(1);
  const int rank = static_cast<int>(data.size());
  if (rank == 0) ctx.fail_shape("data '" + ctx.input(0).name + "' is a scalar; GatherElements needs rank >= 1");
  if (indices.size() != data.size())
    ctx.fail_shape("indices " + shape_str(indices) + " and data " + shape_str(data) + " differ in rank");
  const int axis = ctx.normalize_axis(ctx.attrs().get_int("axis", 0), rank);
  for (int d = 0; d < rank; ++d)
    if (d != axis && indices[d] > data[d])
      ctx.fail_shape("indices " + shape_str(indices) + " exceed data " + shape_str(data) + " along axis " +
                     std::to_string(d));
  ctx.set_output(0, ctx.input_dtype(0), indices);
}

}  // namespace metalnn
