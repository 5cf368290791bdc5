// Resize in one pass: each output element reads its taps (host-computed per dim) and blends the 2^k
// corners of its k linear dims, or (cubic, antialiased linear) sums over its per-dim spans of rows. One thread per output element; no threadgroup
// memory. Nearest by element width; linear (and tf_crop_and_resize) by float dtype.
#include "common.h"

template <typename T>
kernel void resize_nearest(device const T* x [[buffer(0)]],
                           device const ResizeTap* taps [[buffer(1)]],
                           device T* y [[buffer(2)]],
                           constant ResizeParams& p [[buffer(3)]],
                           uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  uint offset = 0;
  uint i = gid;
  for (int d = int(p.rank) - 1; d >= 0; --d) {
    offset += uint(taps[p.tap_offset[d] + i % p.out_shape[d]].i0) * p.in_strides[d];
    i /= p.out_shape[d];
  }
  y[gid] = x[offset];
}

template <typename T>
kernel void resize_linear(device const T* x [[buffer(0)]],
                          device const ResizeTap* taps [[buffer(1)]],
                          device T* y [[buffer(2)]],
                          constant ResizeParams& p [[buffer(3)]],
                          uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  uint base = 0;
  uint step[MNN_MAX_RANK];
  float w1[MNN_MAX_RANK];
  uint i = gid;
  for (int d = int(p.rank) - 1; d >= 0; --d) {
    const ResizeTap t = taps[p.tap_offset[d] + i % p.out_shape[d]];
    i /= p.out_shape[d];
    if (t.outside) {
      y[gid] = T(p.extrapolation);
      return;
    }
    base += uint(t.i0) * p.in_strides[d];
    step[d] = uint(t.i1 - t.i0) * p.in_strides[d];
    w1[d] = t.w1;
  }
  float acc = 0.0f;
  for (uint corner = 0; corner < (1u << p.rank); ++corner) {
    if (corner & ~p.linear_dims) continue;
    float weight = 1.0f;
    uint offset = base;
    for (uint d = 0; d < p.rank; ++d) {
      if (!((p.linear_dims >> d) & 1u)) continue;
      const bool far = (corner >> d) & 1u;
      weight *= far ? w1[d] : 1.0f - w1[d];
      offset += far ? step[d] : 0u;
    }
    acc = fma(weight, float(x[offset]), acc);
  }
  y[gid] = T(acc);
}

// Cubic and antialiased linear: the weighted sum over the product of each dim's span of rows.
template <typename T>
kernel void resize_filter(device const T* x [[buffer(0)]],
                          device const ResizeSpan* spans [[buffer(1)]],
                          device const ResizeWeight* weights [[buffer(2)]],
                          device T* y [[buffer(3)]],
                          constant ResizeParams& p [[buffer(4)]],
                          uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  uint first[MNN_MAX_RANK];
  uint count[MNN_MAX_RANK];
  uint pos[MNN_MAX_RANK];
  uint i = gid;
  for (int d = int(p.rank) - 1; d >= 0; --d) {
    const ResizeSpan s = spans[p.tap_offset[d] + i % p.out_shape[d]];
    i /= p.out_shape[d];
    if (s.outside) {
      y[gid] = T(p.extrapolation);
      return;
    }
    first[d] = s.first;
    count[d] = s.count;
    pos[d] = 0;
  }
  float acc = 0.0f;
  while (true) {
    float weight = 1.0f;
    uint offset = 0;
    for (uint d = 0; d < p.rank; ++d) {
      const ResizeWeight w = weights[first[d] + pos[d]];
      weight *= w.weight;
      offset += uint(w.index) * p.in_strides[d];
    }
    acc = fma(weight, float(x[offset]), acc);
    int d = int(p.rank) - 1;
    for (; d >= 0; --d) {
      if (++pos[d] < count[d]) break;
      pos[d] = 0;
    }
    if (d < 0) break;
  }
  y[gid] = T(acc);
}

#define instantiate_resize_nearest(width, T, _) instantiate_kernel(resize, nearest, width, resize_nearest<T>)
MNN_WIDTH_TYPES(instantiate_resize_nearest, )
#define instantiate_resize_linear(dtype, T, _) instantiate_kernel(resize, linear, dtype, resize_linear<T>)
MNN_FLOAT_TYPES(instantiate_resize_linear, )
#define instantiate_resize_filter(dtype, T, _) instantiate_kernel(resize, filter, dtype, resize_filter<T>)
MNN_FLOAT_TYPES(instantiate_resize_filter, )
