// NonMaxSuppression in two dispatches. `select`: one thread per (batch, class) pushes the boxes above
// the score threshold in box order onto a max-heap keyed by score alone (device scratch, `boxes`
// entries per thread), pops them in turn and keeps a box unless its IoU with a kept one exceeds the
// threshold (the same heap steps as cpp/core/ops/non_max_suppression.h, so ties order as there).
// `gather`: one thread per output row finds its (batch, class) by a prefix over the kept counts and
// writes (batch, class, box), or -1 past the total. No threadgroup memory.
#include "common.h"

struct NmsCandidate {
  float score;
  int index;
};

inline void nms_sift_up(device NmsCandidate* h, int hole, NmsCandidate v) {
  while (hole > 0) {
    const int parent = (hole - 1) / 2;
    if (!(h[parent].score < v.score)) break;
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
  int hole = 0, child = 0;
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
  nms_sift_up(h, hole, last);
  return top;
}

struct NmsBox {
  float x0, x1, y0, y1;
};

template <typename T>
inline NmsBox nms_box(device const T* p, bool center) {
  const float4 b = float4(float(p[0]), float(p[1]), float(p[2]), float(p[3]));
  NmsBox r;
  if (center) {
    r.x0 = b.x - b.z / 2, r.x1 = b.x + b.z / 2, r.y0 = b.y - b.w / 2, r.y1 = b.y + b.w / 2;
  } else {
    r.x0 = b.y <= b.w ? b.y : b.w, r.x1 = b.y <= b.w ? b.w : b.y;
    r.y0 = b.x <= b.z ? b.x : b.z, r.y1 = b.x <= b.z ? b.z : b.x;
  }
  return r;
}

inline bool nms_suppress(NmsBox a, NmsBox b, float threshold) {
  const float ix0 = a.x0 > b.x0 ? a.x0 : b.x0, ix1 = a.x1 < b.x1 ? a.x1 : b.x1;
  if (ix1 <= ix0) return false;
  const float iy0 = a.y0 > b.y0 ? a.y0 : b.y0, iy1 = a.y1 < b.y1 ? a.y1 : b.y1;
  if (iy1 <= iy0) return false;
  const float inter = (ix1 - ix0) * (iy1 - iy0);
  if (inter <= 0.0f) return false;
  const float area_a = (a.x1 - a.x0) * (a.y1 - a.y0), area_b = (b.x1 - b.x0) * (b.y1 - b.y0);
  const float uni = area_a + area_b - inter;
  if (area_a <= 0.0f || area_b <= 0.0f || uni <= 0.0f) return false;
  return inter / uni > threshold;
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
    for (uint k = 0; k < count && keep; ++k) keep = !nms_suppress(nms_box(b + 4 * mine[k], center), box, iou);
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
