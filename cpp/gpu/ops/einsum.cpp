// Einsum (metal/einsum.metal): the parsed labels split into output and summed ones, with each
// operand's stride along each label (summed over a diagonal's dims; 0 where it broadcasts).
#include "core/ops/einsum.h"
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_einsum(Lowering& L, const Node& n) {
  std::vector<Shape> shapes;
  for (int in : n.inputs) shapes.push_back(L.shape(in));
  if (shapes.size() > 3) unsupported(n, "Einsum of more than 3 operands");
  const EinsumSpec spec = parse_einsum(n, shapes);
  const size_t labels = spec.sizes.size();
  std::vector<std::vector<int64_t>> strides(shapes.size(), std::vector<int64_t>(labels, 0));
  std::vector<char> used(labels, 0), in_output(labels, 0);
  for (size_t i = 0; i < shapes.size(); ++i) {
    const std::vector<int64_t> row = shape_strides(shapes[i]);
    for (size_t d = 0; d < shapes[i].size(); ++d) {
      const int l = spec.inputs[i][d];
      used[size_t(l)] = 1;
      if (shapes[i][d] != 1 || spec.sizes[size_t(l)] == 1) strides[i][size_t(l)] += row[d];
    }
  }
  for (int l : spec.output) in_output[size_t(l)] = 1;
  std::vector<int64_t> out_shape, sum_shape;
  std::vector<std::vector<int64_t>> out_strides(shapes.size()), sum_strides(shapes.size());
  auto add = [&](size_t l, std::vector<int64_t>& shape, std::vector<std::vector<int64_t>>& per_input) {
    shape.push_back(spec.sizes[l]);
    for (size_t i = 0; i < shapes.size(); ++i) per_input[i].push_back(strides[i][l]);
  };
  for (int l : spec.output) add(size_t(l), out_shape, out_strides);
  for (size_t l = 0; l < labels; ++l)
    if (used[l] && !in_output[l]) add(l, sum_shape, sum_strides);
  EinsumParams p{};
  p.count = u32(n, shape_numel(out_shape));
  p.inputs = uint32_t(shapes.size());
  p.out_rank = uint32_t(out_shape.size());
  p.sum_rank = uint32_t(sum_shape.size());
  p.sum_count = u32(n, shape_numel(sum_shape));
  fill_array(n, p.out_shape, out_shape);
  fill_array(n, p.sum_shape, sum_shape);
  for (size_t i = 0; i < shapes.size(); ++i) {
    fill_array(n, p.out_strides[i], out_strides[i]);
    fill_array(n, p.sum_strides[i], sum_strides[i]);
  }
  if (p.count == 0) return;
  const int x0 = n.inputs[0];
  Dispatch& d = L.dispatch(kernel_name("einsum", "direct", L.suffix(x0)));
  // Unused operand slots are bound to the first operand (never read).
  for (uint32_t i = 0; i < 3; ++i) d.input(i, i < p.inputs ? n.inputs[i] : x0);
  d.output(3, n.outputs[0]).params(4, p).threads_1d(p.count);
}

}  // namespace metalnn::gpu
