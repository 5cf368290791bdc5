// Expand kernel: the input read with broadcast (zero) strides over the output shape.
#include "cpu/node_values.h"
#include "cpu/ops/view_copy.h"
#include "cpu/strided_loop.h"

namespace metalnn::cpu {

std::unique_ptr<Kernel> make_expand_kernel(const Graph& g, const Node& n) {
  const Value& in = input_value(g, n, 0);
  const Shape& out = output_value(g, n, 0).shape;
  return std::make_unique<ViewCopyKernel>(in.dtype, out, 0, broadcast_strides(in.shape, out));
}

}  // namespace metalnn::cpu
