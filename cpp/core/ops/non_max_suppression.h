// NonMaxSuppression's order and overlap test, shared by the devices (metal/non_max_suppression.metal
// spells the same steps in MSL), as ONNX Runtime computes them: candidates come out by score, equal
// scores lower box index first, from a binary max-heap; the IoU uses each box's area as given (width
// times height for center boxes), so results match to the last float rounding.
#pragma once
#include <cstdint>

namespace metalnn {

struct NmsEntry {
  float score;
  int32_t index;
};

// a comes out after b.
inline bool nms_after(NmsEntry a, NmsEntry b) { return a.score < b.score || (a.score == b.score && a.index > b.index); }

// Sifts v up from `hole` into the heap h.
inline void nms_heap_sift_up(NmsEntry* h, int32_t hole, NmsEntry v) {
  while (hole > 0) {
    const int32_t parent = (hole - 1) / 2;
    if (!nms_after(h[parent], v)) break;
    h[hole] = h[parent];
    hole = parent;
  }
  h[hole] = v;
}

// Adds h[size - 1] to the heap h[0, size - 1).
inline void nms_heap_push(NmsEntry* h, int32_t size) { nms_heap_sift_up(h, size - 1, h[size - 1]); }

// Removes and returns the top of the heap h[0, size); the heap is then h[0, size - 1).
inline NmsEntry nms_heap_pop(NmsEntry* h, int32_t size) {
  const NmsEntry top = h[0];
  const int32_t len = size - 1;
  if (len < 1) return top;
  const NmsEntry last = h[len];
  int32_t hole = 0;
  while (2 * hole + 1 < len) {
    int32_t child = 2 * hole + 1;
    if (child + 1 < len && nms_after(h[child], h[child + 1])) ++child;
    if (!nms_after(last, h[child])) break;
    h[hole] = h[child];
    hole = child;
  }
  h[hole] = last;
  return top;
}

struct NmsBox {
  float x0, x1, y0, y1, area;
};

// center: (x_center, y_center, width, height), else (y1, x1, y2, x2) of any two opposite corners.
inline NmsBox nms_box(const float* b, bool center) {
  NmsBox r;
  if (center) {
    r.x0 = b[0] - b[2] / 2, r.x1 = b[0] + b[2] / 2, r.y0 = b[1] - b[3] / 2, r.y1 = b[1] + b[3] / 2;
    r.area = b[2] * b[3];
  } else {
    r.x0 = b[1] >= b[3] ? b[3] : b[1], r.x1 = b[1] >= b[3] ? b[1] : b[3];
    r.y0 = b[0] >= b[2] ? b[2] : b[0], r.y1 = b[0] >= b[2] ? b[0] : b[2];
    r.area = (r.y1 - r.y0) * (r.x1 - r.x0);
  }
  return r;
}

// Whether the candidate is suppressed by the kept box: IoU above the threshold.
inline bool nms_suppress(const NmsBox& candidate, const NmsBox& kept, float threshold) {
  const float ix0 = candidate.x0 < kept.x0 ? kept.x0 : candidate.x0;
  const float ix1 = kept.x1 < candidate.x1 ? kept.x1 : candidate.x1;
  if (ix1 <= ix0) return false;
  const float iy0 = candidate.y0 < kept.y0 ? kept.y0 : candidate.y0;
  const float iy1 = kept.y1 < candidate.y1 ? kept.y1 : candidate.y1;
  if (iy1 <= iy0) return false;
  const float inter = (ix1 - ix0) * (iy1 - iy0);
  if (inter <= 0.0f) return false;
  return inter / (candidate.area + kept.area - inter) > threshold;
}

}  // namespace metalnn
