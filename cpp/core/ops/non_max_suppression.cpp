// NonMaxSuppression schema (opset 10/11): boxes [B, N, 4], scores [B, C, N] float32, optional
// max_output_boxes_per_class (int64 scalar, a constant), iou_threshold and score_threshold (float32
// scalars, read by the kernel) -> int64 [count, 3] rows of (batch, class, box). The count is known only
// once the kernel has run: the output is inferred at its upper bound, B * C * min(max_out, N) rows,
// and the kernel pads the rows past the count with -1 (see data_dependent_axis).
#include <algorithm>

#include "core/ops/tensor_checks.h"

namespace metalnn {

namespace {
void require_scalar(const InferContext& ctx, int i, const char* what) {
  if (!ctx.has_input(i)) return;
  if (shape_numel(ctx.input_shape(i)) != 1 || ctx.input_rank(i) > 1)
    ctx.fail_shape(std::string(what) + " '" + ctx.input(i).name + "' has shape " + shape_str(ctx.input_shape(i)) +
                   ", expected a scalar");
}
}  // namespace

void infer_non_max_suppression(InferContext& ctx) {
  ctx.check_inputs(2, 5);
  require_dtype(ctx, 0, {DType::Float32});
  require_dtype(ctx, 1, {DType::Float32});
  const Shape& boxes = ctx.input_shape(0);
  const Shape& scores = ctx.input_shape(1);
  if (boxes.size() != 3 || boxes[2] != 4)
    ctx.fail_shape("boxes '" + ctx.input(0).name + "' has shape " + shape_str(boxes) +
                   ", expected [num_batches, num_boxes, 4]");
  if (scores.size() != 3 || scores[0] != boxes[0] || scores[2] != boxes[1])
    ctx.fail_shape("scores '" + ctx.input(1).name + "' has shape " + shape_str(scores) + ", expected [" +
                   std::to_string(boxes[0]) + ", num_classes, " + std::to_string(boxes[1]) +
                   "] to match boxes " + shape_str(boxes));
  const int64_t center = ctx.attrs().get_int("center_point_box", 0);
  if (center != 0 && center != 1) ctx.fail_model("center_point_box " + std::to_string(center) + " is not 0 or 1");
  require_scalar(ctx, 2, "max_output_boxes_per_class");
  require_scalar(ctx, 3, "iou_threshold");
  require_scalar(ctx, 4, "score_threshold");
  if (ctx.has_input(2)) require_dtype(ctx, 2, {DType::Int64});
  if (ctx.has_input(3)) require_dtype(ctx, 3, {DType::Float32});
  if (ctx.has_input(4)) require_dtype(ctx, 4, {DType::Float32});
  int64_t max_out = 0;  // absent: no output, as ONNX says
  if (ctx.has_input(2)) max_out = std::max<int64_t>(0, require_int_constant(ctx, 2, "max_output_boxes_per_class")[0]);
  if (const Tensor* iou = ctx.constant_input(3)) {
    const double t = iou->float_at(0);
    if (!(t >= 0.0 && t <= 1.0)) ctx.fail_model("iou_threshold " + std::to_string(t) + " is outside [0, 1]");
  }
  ctx.set_output(0, DType::Int64, {boxes[0] * scores[1] * std::min(max_out, boxes[1]), 3});
}

}  // namespace metalnn
