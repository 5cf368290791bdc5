// Resize (metal/resize.metal): the taps of every output coordinate are computed here, per dim, as on
// the CPU (core/ops/resize.h), and uploaded once; identity dims get taps i0 = o.
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
