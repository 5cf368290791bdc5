// Resize (metal/resize.metal): the taps of every output coordinate are computed here, per dim, as on
// the CPU (core/ops/resize.h), and uploaded once; identity dims get taps i0 = o. Cubic and antialiased
// linear upload per-dim spans of (row, weight) lists instead.
#include "core/ops/resize.h"
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_resize(Lowering& L, const Node& n) {
  const int x = n.inputs[0], y = n.outputs[0];
  const Shape& in = L.shape(x);
  const ResizeGeometry geo = resolve_resize(n, in, L.constant_input(n, 1), L.constant_input(n, 2), L.constant_input(n, 3));
  const bool linear = n.attrs.get_string("mode", "nearest") == "linear";
  const bool crop = n.attrs.get_string("coordinate_transformation_mode", "half_pixel") == "tf_crop_and_resize";
  ResizeParams p{};
  p.count = u32(n, shape_numel(geo.out));
  p.rank = uint32_t(in.size());
  p.extrapolation = n.attrs.get_float("extrapolation_value", 0.0f);
  fill_array(n, p.out_shape, geo.out);
  fill_array(n, p.in_strides, shape_strides(in));
  if (p.count == 0) return;  // before the tables: an empty output may still have long axes
  if (resize_uses_filter(n)) {
    std::vector<ResizeSpan> spans;
    std::vector<ResizeWeight> weights;
    for (size_t d = 0; d < in.size(); ++d) {
      p.tap_offset[d] = u32(n, int64_t(spans.size()));
      const ResizeFilter f = resize_axis_filter(n, geo, in, d);
      for (int64_t o = 0; o < geo.out[d]; ++o)
        spans.push_back({u32(n, int64_t(weights.size()) + f.first[o]), u32(n, f.first[o + 1] - f.first[o]),
                         f.outside[size_t(o)] ? 1u : 0u, 0u});
      for (size_t k = 0; k < f.index.size(); ++k) weights.push_back({int32_t(f.index[k]), f.weight[k]});
    }
    auto span_buffer = L.upload_bytes(spans.data(), spans.size() * sizeof(ResizeSpan));
    if (weights.empty()) weights.push_back({0, 0.0f});  // every coordinate outside the crop box
    auto weight_buffer = L.upload_bytes(weights.data(), weights.size() * sizeof(ResizeWeight));
    L.dispatch(kernel_name("resize", "filter", L.suffix(x)))
        .input(0, x).buffer(1, span_buffer).buffer(2, weight_buffer).output(3, y).params(4, p).threads_1d(p.count);
    return;
  }
  std::vector<ResizeTap> taps;
  for (size_t d = 0; d < in.size(); ++d) {
    p.tap_offset[d] = u32(n, int64_t(taps.size()));
    for (const metalnn::ResizeTap& t : resize_axis_taps(n, geo, in, d)) {
      taps.push_back({int32_t(t.i0), int32_t(t.i1), t.w1, t.outside ? 1u : 0u});
      if (linear && t.w1 != 0.0f && t.i1 != t.i0) p.linear_dims |= 1u << d;  // blended somewhere
    }
  }
  auto buffer = L.upload_bytes(taps.data(), taps.size() * sizeof(ResizeTap));
  // Nearest inside a crop box still needs the extrapolation value: the float kernel with no linear dims.
  const std::string kernel = linear || crop ? kernel_name("resize", "linear", L.suffix(x))
                                            : kernel_name("resize", "nearest", width_suffix(L.storage(x)));
  L.dispatch(kernel).input(0, x).buffer(1, buffer).output(2, y).params(3, p).threads_1d(p.count);
}

}  // namespace metalnn::gpu
