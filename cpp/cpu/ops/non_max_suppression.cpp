// NonMaxSuppression kernel, as ONNX Runtime computes it: per (batch, class), the boxes above the score
// threshold come out of a max-heap by score (equal scores lower index first, core/ops/non_max_suppression.h);
// a box is kept unless its IoU with a kept box exceeds the threshold. Rows past the count are -1 (the
// output is planned at its upper bound).
#include <algorithm>

#include "core/ops/non_max_suppression.h"
#include "cpu/kernel.h"

namespace metalnn::cpu {

namespace {

void non_max_suppression(const Node& n, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
                         ThreadPool&) {
  const Shape& bs = in[0]->shape();
  const int64_t batches = bs[0], boxes_n = bs[1], classes = in[1]->shape()[1];
  const int64_t max_out = in.size() > 2 && in[2] ? std::max<int64_t>(0, in[2]->int_at(0)) : 0;
  const float iou = in.size() > 3 && in[3] ? in[3]->data<float>()[0] : 0.0f;
  const bool has_score = in.size() > 4 && in[4];
  const float score_threshold = has_score ? in[4]->data<float>()[0] : 0.0f;
  const bool center = n.attrs.get_int("center_point_box", 0) != 0;
  int64_t* o = out[0]->data<int64_t>();
  const int64_t rows = out[0]->shape()[0];
  int64_t count = 0;
  std::vector<NmsEntry> heap;
  std::vector<NmsBox> kept;
  for (int64_t b = 0; b < batches && max_out > 0; ++b) {
    const float* boxes = in[0]->data<float>() + b * boxes_n * 4;
    for (int64_t c = 0; c < classes; ++c) {
      const float* scores = in[1]->data<float>() + (b * classes + c) * boxes_n;
      heap.clear();
      for (int64_t i = 0; i < boxes_n; ++i)
        if (!has_score || scores[i] > score_threshold) {
          heap.push_back({scores[i], static_cast<int32_t>(i)});
          nms_heap_push(heap.data(), static_cast<int32_t>(heap.size()));
        }
      kept.clear();
      for (int32_t size = static_cast<int32_t>(heap.size()); size > 0 && int64_t(kept.size()) < max_out; --size) {
        const NmsEntry top = nms_heap_pop(heap.data(), size);
        const NmsBox box = nms_box(boxes + 4 * top.index, center);
        bool keep = true;
        for (const NmsBox& k : kept)
          if (nms_suppress(box, k, iou)) {
            keep = false;
            break;
          }
        if (!keep) continue;
        kept.push_back(box);
        o[count * 3 + 0] = b, o[count * 3 + 1] = c, o[count * 3 + 2] = top.index;
        ++count;
      }
    }
  }
  std::fill(o + count * 3, o + rows * 3, int64_t{-1});
}

}  // namespace

std::unique_ptr<Kernel> make_non_max_suppression_kernel(const Graph& g, const Node& n) {
  return stateless_kernel<non_max_suppression>(g, n);
}

}  // namespace metalnn::cpu
