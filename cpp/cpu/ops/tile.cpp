// Tile kernel: the output of shape [r0 * d0, r1 * d1, ...] is laid out exactly like a row-major
// [r0, d0, r1, d1, ...] array, which reads the input with stride 0 along every repeat dim.
#include "cpu/node_values.h"
#include "cpu/ops/view_copy.h"

namespace metalnn::cpu {

std::unique_ptr<Kernel> make_tile_kernel(const Graph& g, const Node& n) {
  const Value& in = input_value(g, n, 0);
  const std::vector<int64_t> repeats = constant_ints(g, n, 1);
  const std::vector<int64_t> in_strides = shape_strides(in.shape);
  Shape view;
  std::vector<int64_t> src_strides;
  for (size_t d = 0; d < in.shape.size(); ++d) {
    view.insert(view.end(), {repeats[d], in.shape[d]});
    src_strides.insert(src_strides.end(), {0, in_strides[d]});
  }
  return std::make_unique<ViewCopyKernel>(in.dtype, view, 0, src_strides);
}

}  // namespace metalnn::cpu
