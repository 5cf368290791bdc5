// Slice schema (opset 10+ input form): starts, ends, optional axes and steps, all constant; negative
// indices count from the end, out-of-range values clamp, negative steps walk backwards.
#include "core/ops/slice.h"

#include <algorithm>
#include <limits>

#include "core/ops/tensor_checks.h"

namespace metalnn {

SliceWindow resolve_slice(const Shape& in, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                          const std::vector<int64_t>& axes, const std::vector<int64_t>& steps) {
  const int64_t rank = static_cast<int64_t>(in.size());
  SliceWindow w;
  w.start.assign(in.size(), 0);
  w.step.assign(in.size(), 1);
  w.out_shape = in;
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t axis = axes.empty() ? static_cast<int64_t>(i) : (axes[i] < 0 ? axes[i] + rank : axes[i]);
    const int64_t dim = in[axis];
    // Steps beyond the dim all take one element; bounding them keeps the arithmetic below from overflowing.
    const int64_t step = std::clamp<int64_t>(steps.empty() ? 1 : steps[i], -std::numeric_limits<int64_t>::max(),
                                             std::numeric_limits<int64_t>::max());
    int64_t start = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t end = ends[i] < 0 ? ends[i] + dim : ends[i];
    int64_t len = 0;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      if (end > start) len = (end - start - 1) / step + 1;
    } else if (dim > 0) {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      if (start > end) len = (start - end - 1) / -step + 1;
    }
    w.start[axis] = len > 0 ? start : 0;
    w.step[axis] = step;
    w.out_shape[axis] = len;
  }
  return w;
}

void infer_slice(InferContext& ctx) {
  ctx.check_inputs(3, 5);
  const Shape& in = ctx.input_shape(0);
  const int rank = static_cast<int>(in.size());
  const std::vector<int64_t> starts = require_int_constant(ctx, 1, "starts");
  const std::vector<int64_t> ends = require_int_constant(ctx, 2, "ends");
  std::vector<int64_t> axes, steps;
  if (ctx.has_input(3)) axes = require_int_constant(ctx, 3, "axes");
  if (ctx.has_input(4)) steps = require_int_constant(ctx, 4, "steps");

  const size_t n = starts.size();
  if (ends.size() != n || (ctx.has_input(3) && axes.size() != n) || (ctx.has_input(4) && steps.size() != n))
    ctx.fail_model("starts, ends, axes and steps must have the same length, got " + std::to_string(n) + ", " +
                   std::to_string(ends.size()) + ", " + std::to_string(axes.size()) + ", " +
                   std::to_string(steps.size()));
  if (!ctx.has_input(3) && static_cast<int>(n) > rank)
    ctx.fail_model(std::to_string(n) + " starts for input " + shape_str(in) + " of rank " + std::to_string(rank));
  std::vector<int> normalized;
  for (int64_t a : axes) normalized.push_back(ctx.normalize_axis(a, rank));
  require_unique_axes(ctx, normalized, "axes");
  for (int64_t s : steps)
    if (s == 0) ctx.fail_model("steps must be nonzero");

  ctx.set_output(0, ctx.input_dtype(0), resolve_slice(in, starts, ends, axes, steps).out_shape);
}

}  // namespace metalnn
