// Shape and Size kernels: they read only the input's shape, never its data (constant folding hands
// them a data-less view).
#include "core/ops/shape.h"
#include "cpu/kernel.h"

namespace metalnn::cpu {

namespace {

void shape_or_size(const Node& n, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool&) {
  int64_t* y = out[0]->data<int64_t>();
  const Shape& s = in[0]->shape();
  if (n.op_type == "Size") {
    y[0] = shape_numel(s);
    return;
  }
  const auto [start, end] = shape_dim_range(n.attrs, static_cast<int>(s.size()));
  for (int64_t d = start; d < end; ++d) y[d - start] = s[d];
}

}  // namespace

std::unique_ptr<Kernel> make_shape_kernel(const Graph& g, const Node& n) { return stateless_kernel<shape_or_size>(g, n); }

}  // namespace metalnn::cpu
