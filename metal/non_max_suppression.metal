// NonMaxSuppression in two dispatches. `select`: one thread per (batch, class) pushes the boxes above
// the score threshold onto a max-heap (device scratch, `boxes` entries per thread), pops them by score,
// equal scores lower index first, and keeps a box unless its IoU with a kept one exceeds the threshold
// (the steps of cpp/core/ops/non_max_suppression.h).
// `gather`: one thread per output row finds its (batch, class) by a prefix over the kept counts and
// writes (batch, class, box), or -1 past the total. No threadgroup memory.
#include "common.h"

struct NmsCandidate {
  float score;
  int index;
};

// a comes out after b: by score, equal scores lower index first.
inline bool nms_after(NmsCandidate a, NmsCandidate b) {
  return a.score < b.score || (a.score == b.score && a.index > b.index);
}

inline void nms_sift_up(device NmsCandidate* h, int hole, NmsCandidate v) {
  while (hole > 0) {
    const int parent = (hole - 1) / 2;
    if (!nms_after(h[parent], v)) break;
    h[hole] = h[parent];
    hole = parent;
  }
  h[hole] = v;
}

inline NmsCandidate nms_pop(device NmsCandidate* h, int size) {
  const NmsCandidate top = h[0];
  const int len = size - 1;
  if (len < 1) return top;
  const NmsCandidate last = h[len];
  int hole = 0;
  while (2 * hole + 1 < len) {
    int child = 2 * hole + 1;
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
template <typename T>
inline NmsBox nms_box(device const T* p, bool center) {
  const float4 b = float4(float(p[0]), float(p[1]), float(p[2]), float(p[3]));
  NmsBox r;
  if (center) {
    r.x0 = b.x - b.z / 2, r.x1 = b.x + b.z / 2, r.y0 = b.y - b.w / 2, r.y1 = b.y + b.w / 2;
    r.area = b.z * b.w;
  } else {
    r.x0 = b.y >= b.w ? b.w : b.y, r.x1 = b.y >= b.w ? b.y : b.w;
    r.y0 = b.x >= b.z ? b.z : b.x, r.y1 = b.x >= b.z ? b.x : b.z;
    r.area = (r.y1 - r.y0) * (r.x1 - r.x0);
  }
  return r;
}

// Whether the candidate is suppressed by the kept box: IoU above the threshold.
inline bool nms_suppress(NmsBox candidate, NmsBox kept, float threshold) {
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

template <typename T>
kernel void nms_select(device const T* boxes [[buffer(0)]],
                       device const T* scores [[buffer(1)]],
                       device const T* iou_threshold [[buffer(2)]],
                       device const T* score_threshold [[buffer(3)]],
                       device NmsCandidate* heaps [[buffer(4)]],
                       device uint* kept [[buffer(5)]],
                       device uint* counts [[buffer(6)]],
                       constant NmsParams& p [[buffer(7)]],
                       uint gid [[thread_position_in_grid]]) {
  if (gid >= p.batches * p.classes) return;
  const uint batch = gid / p.classes;
  const bool center = p.center_point_box != 0;
  const float iou = p.has_iou_threshold ? float(iou_threshold[0]) : 0.0f;
  const float floor_score = p.has_score_threshold ? float(score_threshold[0]) : 0.0f;
  device const T* s = scores + gid * p.boxes;
  device const T* b = boxes + batch * p.boxes * 4;
  device NmsCandidate* h = heaps + gid * p.boxes;
  device uint* mine = kept + gid * p.max_out;
  int size = 0;
  for (uint i = 0; i < p.boxes; ++i) {
    const float score = float(s[i]);
    if (p.has_score_threshold && !(score > floor_score)) continue;
    NmsCandidate c;
    c.score = score;
    c.index = int(i);
    nms_sift_up(h, size, c);
    ++size;
  }
  uint count = 0;
  for (; size > 0 && count < p.max_out; --size) {
    const NmsCandidate top = nms_pop(h, size);
    const NmsBox box = nms_box(b + 4 * top.index, center);
    bool keep = true;
    for (uint k = 0; k < count && keep; ++k) keep = !nms_suppress(box, nms_box(b + 4 * mine[k], center), iou);
    if (keep) mine[count++] = uint(top.index);
  }
  counts[gid] = count;
}

template <typename T>
kernel void nms_gather(device const uint* kept [[buffer(0)]],
                       device const uint* counts [[buffer(1)]],
                       device T* out [[buffer(2)]],
                       constant NmsParams& p [[buffer(3)]],
                       uint gid [[thread_position_in_grid]]) {
  if (gid >= p.rows) return;
  uint before = 0;
  for (uint bc = 0; bc < p.batches * p.classes; ++bc) {
    const uint c = counts[bc];
    if (gid < before + c) {
      out[gid * 3 + 0] = T(bc / p.classes);
      out[gid * 3 + 1] = T(bc % p.classes);
      out[gid * 3 + 2] = T(kept[bc * p.max_out + gid - before]);
      return;
    }
    before += c;
  }
  out[gid * 3 + 0] = -1;
  out[gid * 3 + 1] = -1;
  out[gid * 3 + 2] = -1;
}

#define instantiate_nms_select(dtype, T, _) instantiate_kernel(non_max_suppression, select, dtype, nms_select<T>)
MNN_FLOAT_TYPES(instantiate_nms_select, )
instantiate_kernel(non_max_suppression, gather, i64, nms_gather<long>)
