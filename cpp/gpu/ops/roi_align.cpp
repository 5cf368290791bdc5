// RoiAlign (metal/roi_align.metal): one thread per output element; rois and batch_indices are read on
// the device, so they may be run-time inputs.
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_roi_align(Lowering& L, const Node& n) {
  const int x = n.inputs[0], rois = n.inputs[1], indices = n.inputs[2], y = n.outputs[0];
  const Shape& in = L.shape(x);
  RoiAlignParams p{};
  p.count = u32(n, shape_numel(L.shape(y)));
  p.batch = u32(n, in[0]);
  p.channels = u32(n, in[1]);
  p.height = u32(n, in[2]);
  p.width = u32(n, in[3]);
  p.out_h = u32(n, n.attrs.get_int("output_height", 1));
  p.out_w = u32(n, n.attrs.get_int("output_width", 1));
  p.sampling_ratio = int32_t(u32(n, n.attrs.get_int("sampling_ratio", 0)));
  p.max_mode = n.attrs.get_string("mode", "avg") == "max";
  p.half_pixel = n.attrs.get_string("coordinate_transformation_mode", "half_pixel") == "half_pixel";
  p.spatial_scale = n.attrs.get_float("spatial_scale", 1.0f);
  if (p.count == 0) return;
  L.dispatch(kernel_name("roi_align", "bilinear", L.suffix(x)))
      .input(0, x).input(1, rois).input(2, indices).output(3, y).params(4, p).threads_1d(p.count);
}

}  // namespace metalnn::gpu
