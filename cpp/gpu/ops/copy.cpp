// The strided copy (metal/copy.metal) that the data-movement lowerings (reshape, transpose, slice,
// expand, tile, concat, split, cast between equal storage) are made of.
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void strided_copy(Lowering& L, const Node& n, int in, int out, const Shape& shape, const std::vector<int64_t>& in_strides,
                  int64_t in_offset, const std::vector<int64_t>& out_strides, int64_t out_offset) {
  CopyParams p{};
  const Shape s = shape.empty() ? Shape{1} : shape;
  p.rank = uint32_t(s.size());
  p.count = u32(n, shape_numel(s));
  p.in_offset = int32_t(in_offset);
  p.out_offset = u32(n, out_offset);
  fill_array(n, p.shape, s);
  fill_array(n, p.in_strides, shape.empty() ? std::vector<int64_t>{0} : in_strides);
  fill_array(n, p.out_strides, shape.empty() ? std::vector<int64_t>{0} : out_strides);
  L.dispatch(kernel_name("copy", "strided", width_suffix(L.storage(in))))
      .input(0, in).output(1, out).params(2, p).threads_1d(p.count);
}

void contiguous_copy(Lowering& L, const Node& n, int in, int out) {
  const int64_t count = shape_numel(L.shape(out));
  strided_copy(L, n, in, out, Shape{count}, {1}, 0, {1}, 0);
}

}  // namespace metalnn::gpu
