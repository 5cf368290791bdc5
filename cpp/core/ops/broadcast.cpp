#include "core/ops/broadcast.h"

#include <algorithm>

namespace metalnn {

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> strides(out.size(), 0);
  const std::vector<int64_t> own = shape_strides(in);
  const size_t lead = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) strides[lead + i] = in[i] == 1 ? 0 : own[i];
  return strides;
}

bool try_broadcast_shapes(const Shape& a, const Shape& b, Shape* out) {
  const size_t rank = std::max(a.size(), b.size());
  Shape r(rank);
  for (size_t i = 0; i < rank; ++i) {
    // Right-aligned: missing leading dims count as 1.
    const int64_t da = i + a.size() >= rank ? a[i + a.size() - rank] : 1;
    const int64_t db = i + b.size() >= rank ? b[i + b.size() - rank] : 1;
    if (da != db && da != 1 && db != 1) return false;
    r[i] = da == 1 ? db : da;
  }
  *out = std::move(r);
  return true;
}

Shape broadcast_input_shapes(const InferContext& ctx, int first) {
  Shape out;
  std::string names;  // the inputs merged into `out` so far, for the error message
  for (int i = first; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    if (names.empty()) {
      out = ctx.input_shape(i);
    } else if (!try_broadcast_shapes(out, ctx.input_shape(i), &out)) {
      ctx.fail_shape("cannot broadcast " + shape_str(out) + " (" + names + ") with " +
                     shape_str(ctx.input_shape(i)) + " ('" + ctx.input(i).name + "')");
    }
    names += (names.empty() ? "'" : ", '") + ctx.input(i).name + "'";
  }
  return out;
}

}  // namespace metalnn
