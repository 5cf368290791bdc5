// Split schema: cuts the input along `axis` into the node's outputs. Sizes come from input 1 (or
// the pre-13 `split` attribute), else `num_outputs` (opset 18: ceil-sized chunks, the last smaller),
// else an equal split by the number of outputs.
#include <algorithm>
#include <numeric>

#include "core/ops/tensor_checks.h"

namespace metalnn {

void infer_split(InferContext& ctx) {
  ctx.check_inputs(1, 2);
  const int rank = ctx.input_rank(0);
  if (rank == 0) ctx.fail_shape("input '" + ctx.input(0).name + "' is a scalar; Split needs rank >= 1");
  const int axis = ctx.normalize_axis(ctx.attrs().get_int("axis", 0), rank);
  const int64_t dim = ctx.input_shape(0)[axis];
  const int outputs = ctx.num_outputs();
  if (outputs < 1) ctx.fail_model("has no outputs");
  // The kernel places each piece by its output's shape, so every output must exist.
  for (int i = 0; i < outputs; ++i)
    if (!ctx.has_output(i)) ctx.fail_unsupported("output " + std::to_string(i) + " is omitted");

  std::vector<int64_t> sizes;
  if (ctx.has_input(1)) {
    sizes = require_int_constant(ctx, 1, "split");
  } else if (ctx.attrs().has("split")) {
    sizes = ctx.attrs().get_ints("split");
  } else if (ctx.attrs().has("num_outputs")) {
    const int64_t n = ctx.attrs().get_int("num_outputs", 0);
    if (n != outputs)
      ctx.fail_model("num_outputs is " + std::to_string(n) + " but the node has " + std::to_string(outputs) + " outputs");
    const int64_t chunk = (dim + n - 1) / n;
    for (int64_t i = 0; i < n; ++i) sizes.push_back(std::max<int64_t>(0, std::min(chunk, dim - i * chunk)));
  } else {
    if (dim % outputs != 0)
      ctx.fail_shape("axis " + std::to_string(axis) + " of " + shape_str(ctx.input_shape(0)) +
                     " does not split evenly into " + std::to_string(outputs) + " outputs");
    sizes.assign(outputs, dim / outputs);
  }

  if (static_cast<int>(sizes.size()) != outputs)
    ctx.fail_model("split has " + std::to_string(sizes.size()) + " sizes but the node has " +
                   std::to_string(outputs) + " outputs");
  for (int64_t s : sizes)
    if (s < 0) ctx.fail_model("split sizes must be >= 0, got " + std::to_string(s));
  const int64_t total = std::accumulate(sizes.begin(), sizes.end(), int64_t{0});
  if (total != dim)
    ctx.fail_shape("split sizes add up to " + std::to_string(total) + ", but axis " + std::to_string(axis) + " of " +
                   shape_str(ctx.input_shape(0)) + " has " + std::to_string(dim));
  for (int i = 0; i < outputs; ++i) {
    Shape s = ctx.input_shape(0);
    s[axis] = sizes[i];
    ctx.set_output(i, ctx.input_dtype(0), s);
  }
}

}  // namespace metalnn
