// NonMaxSuppression (metal/non_max_suppression.metal): `select` per (batch, class) into scratch
// (heaps, kept box indices, counts), then `gather` per output row. Absent thresholds bind a dummy;
// float16 boxes and scores are compared in float.
#include <algorithm>

#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_non_max_suppression(Lowering& L, const Node& n) {
  const Shape& boxes = L.shape(n.inputs[0]);
  const Shape& scores = L.shape(n.inputs[1]);
  const int out = n.outputs[0];
  NmsParams p{};
  p.batches = u32(n, boxes[0]);
  p.classes = u32(n, scores[1]);
  p.boxes = u32(n, boxes[1]);
  const std::vector<int64_t> max_out = L.constant_ints(n, 2);
  p.max_out = u32(n, std::min<int64_t>(max_out.empty() ? 0 : std::max<int64_t>(0, max_out[0]), boxes[1]));
  p.rows = u32(n, L.shape(out)[0]);
  p.center_point_box = n.attrs.get_int("center_point_box", 0) != 0;
  p.has_iou_threshold = L.has_input(n, 3);
  p.has_score_threshold = L.has_input(n, 4);
  if (p.rows == 0) return;
  const uint32_t lists = u32(n, uint64_t(p.batches) * p.classes);
  auto scratch = [&](uint64_t bytes) {
    const std::vector<unsigned char> zeros(std::max<uint64_t>(bytes, 4), 0);
    return L.upload_bytes(zeros.data(), zeros.size());
  };
  const auto kept = scratch(uint64_t(lists) * p.max_out * 4), counts = scratch(uint64_t(lists) * 4);
  Dispatch& select = L.dispatch(kernel_name("non_max_suppression", "select", L.suffix(n.inputs[0])));
  select.input(0, n.inputs[0]).input(1, n.inputs[1]);
  for (uint32_t i : {3u, 4u}) {
    if (L.has_input(n, int(i))) select.input(i - 1, n.inputs[i]);
    else select.buffer(i - 1, scratch(4));
  }
  select.buffer(4, scratch(uint64_t(lists) * p.boxes * 8)).buffer(5, kept).buffer(6, counts).params(7, p).threads_1d(lists);
  for (Binding& b : select.bindings) b.write = b.index >= 4 && b.index <= 6;  // the scratch it fills
  L.dispatch(kernel_name("non_max_suppression", "gather", "i64"))
      .buffer(0, kept)
      .buffer(1, counts)
      .output(2, out)
      .params(3, p)
      .threads_1d(p.rows);
}

}  // namespace metalnn::gpu
