// LayerNormalization (metal/layer_norm.metal): the tensor as rows of the dims from `axis` on, one
// SIMD-group per row; Scale and B read through broadcast strides over the row.
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_layer_norm(Lowering& L, const Node& n) {
  const int x = n.inputs[0], y = n.outputs[0];
  const Shape& s = L.shape(x);
  const int64_t axis = node_axis(n, int64_t(s.size()), -1);
  const Shape row(s.begin() + axis, s.end());
  LayerNormParams p{};
  p.rows = u32(n, split_from_axis(s, axis).outer);
  p.width = u32(n, shape_numel(row));
  p.rank = uint32_t(row.size());
  p.epsilon = n.attrs.get_float("epsilon", 1e-5f);
  p.has_bias = Lowering::has_input(n, 2) ? 1u : 0u;
  fill_array(n, p.shape, row);
  fill_array(n, p.scale_strides, broadcast_strides(L.shape(n.inputs[1]), row));
  if (p.has_bias) fill_array(n, p.bias_strides, broadcast_strides(L.shape(n.inputs[2]), row));
  if (p.rows == 0 || p.width == 0) return;
  const int mean = n.outputs.size() > 1 ? n.outputs[1] : -1, inv = n.outputs.size() > 2 ? n.outputs[2] : -1;
  const bool stats = mean >= 0 || inv >= 0;
  Dispatch& d = L.dispatch(kernel_name("layer_norm", stats ? "stats" : "row", L.suffix(x)));
  d.input(0, x).input(1, n.inputs[1]).input(2, n.inputs[p.has_bias ? 2 : 1]).output(3, y).params(6, p);
  // Omitted statistics are bound to scratch (a placeholder for the row variant, which never writes them).
  const std::vector<float> scratch(stats ? p.rows : 1, 0.0f);
  for (auto [index, value] : {std::pair<uint32_t, int>{4, mean}, {5, inv}}) {
    if (value >= 0) d.output(index, value);
    else d.buffer(index, L.upload_floats(scratch));
  }
  d.simdgroups_1d(p.rows);
}

}  // namespace metalnn::gpu
