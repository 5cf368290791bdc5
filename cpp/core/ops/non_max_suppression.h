// NonMaxSuppression's order and overlap test, shared by the devices (metal/non_max_suppression.metal
// spells the same steps in MSL). The candidates of one (batch, class) are popped from a binary max-heap
// keyed by score alone, built by pushes in box order: the sift-up and sift-down below are the ones of
// the common C++ library heap, so equal scores come out in the order ONNX Runtime gives them.
#pragma once
#include <cstdint>

namespace metalnn {

struct NmsEntry {
  float score;
  int32_t index;
};

// Sifts h[size - 1] up into the heap h[0, size - 1).
inline void nms_heap_sift_up(NmsEntry* h, int32_t hole, NmsEntry v) {
  while (hole > 0) {
    const int32_t parent = (hole - 1) / 2;
    if (!(h[parent].score < v.score)) break;
    h[hole] = h[parent];
    hole = parent;
  }
  h[hole] = v;
}

inline void nms_heap_push(NmsEntry* h, int32_t size) { nms_heap_sift_up(h, size - 1, h[size - 1]); }

// Removes and returns the top of the heap h[0, size); the heap is then h[0, size - 1).
inline NmsEntry nms_heap_pop(NmsEntry* h, int32_t size) {
  const NmsEntry top = h[0];
  const int32_t len = size - 1;
  if (len < 1) return top;
  const NmsEntry last = h[len];
  // The hole walks down along the larger child to a leaf, then the last entry sifts up from there.
  int32_t hole = 0, child = 0;
  while (child < (len - 1) / 2) {
    child = 2 * (child + 1);
    if (h[child].score < h[child - 1].score) --child;
    h[hole] = h[child];
    hole = child;
  }
  if ((len & 1) == 0 && child == (len - 2) / 2) {
    child = 2 * (child + 1);
    h[hole] = h[child - 1];
    hole = child - 1;
  }
  nms_heap_sift_up(h, hole, last);
  return top;
}

// Whether box b is suppressed by the kept box a: IoU above the threshold. center: boxes are
// (x_center, y_center, width, height), else (y1, x1, y2, x2) of any two opposite corners.
inline bool nms_suppress(const float* a, const float* b, bool center, float threshold) {
  float ax0, ax1, ay0, ay1, bx0, bx1, by0, by1;
  if (center) {
    ax0 = a[0] - a[2] / 2, ax1 = a[0] + a[2] / 2, ay0 = a[1] - a[3] / 2, ay1 = a[1] + a[3] / 2;
    bx0 = b[0] - b[2] / 2, bx1 = b[0] + b[2] / 2, by0 = b[1] - b[3] / 2, by1 = b[1] + b[3] / 2;
  } else {
    ax0 = a[1] <= a[3] ? a[1] : a[3], ax1 = a[1] <= a[3] ? a[3] : a[1];
    ay0 = a[0] <= a[2] ? a[0] : a[2], ay1 = a[0] <= a[2] ? a[2] : a[0];
    bx0 = b[1] <= b[3] ? b[1] : b[3], bx1 = b[1] <= b[3] ? b[3] : b[1];
    by0 = b[0] <= b[2] ? b[0] : b[2], by1 = b[0] <= b[2] ? b[2] : b[0];
  }
  const float ix0 = ax0 > bx0 ? ax0 : bx0, ix1 = ax1 < bx1 ? ax1 : bx1;
  if (ix1 <= ix0) return false;
  const float iy0 = ay0 > by0 ? ay0 : by0, iy1 = ay1 < by1 ? ay1 : by1;
  if (iy1 <= iy0) return false;
  const float inter = (ix1 - ix0) * (iy1 - iy0);
  if (inter <= 0.0f) return false;
  const float area_a = (ax1 - ax0) * (ay1 - ay0), area_b = (bx1 - bx0) * (by1 - by0);
  const float uni = area_a + area_b - inter;
  if (area_a <= 0.0f || area_b <= 0.0f || uni <= 0.0f) return false;
  return inter / uni > threshold;
}

}  // namespace metalnn
