// Slice kernel: the window from core/ops/slice.h as a strided view of the input (negative steps walk
// backwards from the window's start).
#include "core/ops/slice.h"
#include "cpu/node_values.h"
#include "cpu/ops/view_copy.h"

namespace metalnn::cpu {

std::unique_ptr<Kernel> make_slice_kernel(const Graph& g, const Node& n) {
  const Value& in = input_value(g, n, 0);
  const SliceWindow w = resolve_slice(in.shape, constant_ints(g, n, 1), constant_ints(g, n, 2), constant_ints(g, n, 3),
                                      constant_ints(g, n, 4));
  const std::vector<int64_t> in_strides = shape_strides(in.shape);
  std::vector<int64_t> strides(in_strides.size());
  int64_t offset = 0;
  for (size_t d = 0; d < in_strides.size(); ++d) {
    offset += w.start[d] * in_strides[d];
    // A step only matters when it is taken; a huge one on a length-1 axis would overflow.
    strides[d] = w.out_shape[d] > 1 ? w.step[d] * in_strides[d] : 0;
  }
  return std::make_unique<ViewCopyKernel>(in.dtype, w.out_shape, offset, strides);
}

}  // namespace metalnn::cpu
