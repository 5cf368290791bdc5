// RoiAlign schema (opset 10 and 16): X [N, C, H, W], rois [R, 4] of (x1, y1, x2, y2) in X's float
// dtype, batch_indices [R] int64 -> [R, C, output_height, output_width]. Opset 10 has no
// coordinate_transformation_mode; the importer sets output_half_pixel, its behaviour.
#include "core/ops/tensor_checks.h"

namespace metalnn {

void infer_roi_align(InferContext& ctx) {
  ctx.check_inputs(3, 3);
  require_dtype(ctx, 0, {DType::Float32});
  require_same_dtype(ctx, 1, 0);
  require_dtype(ctx, 2, {DType::Int64});
  const Shape& x = ctx.input_shape(0);
  const Shape& rois = ctx.input_shape(1);
  const Shape& indices = ctx.input_shape(2);
  if (x.size() != 4)
    ctx.fail_shape("input '" + ctx.input(0).name + "' has " + std::to_string(x.size()) + " dims, expected 4 (N, C, H, W)");
  if (rois.size() != 2 || rois[1] != 4)
    ctx.fail_shape("rois '" + ctx.input(1).name + "' has shape " + shape_str(rois) + ", expected [num_rois, 4]");
  if (indices.size() != 1 || indices[0] != rois[0])
    ctx.fail_shape("batch_indices '" + ctx.input(2).name + "' has shape " + shape_str(indices) + ", expected [" +
                   std::to_string(rois[0]) + "] (one per roi)");
  const std::string mode = ctx.attrs().get_string("mode", "avg");
  if (mode != "avg" && mode != "max") ctx.fail_model("mode '" + mode + "' is not avg or max");
  const std::string coords = ctx.attrs().get_string("coordinate_transformation_mode", "half_pixel");
  if (coords != "half_pixel" && coords != "output_half_pixel")
    ctx.fail_model("coordinate_transformation_mode '" + coords + "' is not half_pixel or output_half_pixel");
  const int64_t oh = ctx.attrs().get_int("output_height", 1), ow = ctx.attrs().get_int("output_width", 1);
  if (oh < 1 || ow < 1)
    ctx.fail_model("output size " + std::to_string(oh) + "x" + std::to_string(ow) + " is not positive");
  if (ctx.attrs().get_int("sampling_ratio", 0) < 0) ctx.fail_model("sampling_ratio must be >= 0");
  ctx.set_output(0, ctx.input_dtype(0), {rois[0], x[1], oh, ow});
}

}  // namespace metalnn
