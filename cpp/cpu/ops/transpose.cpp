// Transpose kernel: output dim i walks input dim perm[i] (a strided view copy).
#include "core/ops/transpose.h"
#include "cpu/node_values.h"
#include "cpu/ops/view_copy.h"

namespace metalnn::cpu {

std::unique_ptr<Kernel> make_transpose_kernel(const Graph& g, const Node& n) {
  const Value& in = input_value(g, n, 0);
  const std::vector<int64_t> perm = transpose_perm(n.attrs, static_cast<int>(in.shape.size()));
  const std::vector<int64_t> in_strides = shape_strides(in.shape);
  std::vector<int64_t> strides(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) strides[i] = in_strides[perm[i]];
  return std::make_unique<ViewCopyKernel>(in.dtype, output_value(g, n, 0).shape, 0, strides);
}

}  // namespace metalnn::cpu
