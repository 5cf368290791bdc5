// RoiAlign: each output element is one bin of one roi and channel: the average (or the largest) of
// grid_h x grid_w bilinear samples inside the bin, in float like the CPU kernel. One thread per output
// element; no threadgroup memory.
#include "common.h"

template <typename T>
kernel void roi_align(device const T* x [[buffer(0)]],
                      device const T* rois [[buffer(1)]],
                      device const long* batch_indices [[buffer(2)]],
                      device T* y [[buffer(3)]],
                      constant RoiAlignParams& p [[buffer(4)]],
                      uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  const uint pw = gid % p.out_w;
  const uint ph = (gid / p.out_w) % p.out_h;
  const uint c = (gid / (p.out_w * p.out_h)) % p.channels;
  const uint r = gid / (p.out_w * p.out_h * p.channels);
  const long index = batch_indices[r];
  const uint b = index < 0 ? 0u : index >= long(p.batch) ? p.batch - 1 : uint(index);
  const float offset = p.half_pixel ? 0.5f : 0.0f;
  const float x0 = float(rois[4 * r]) * p.spatial_scale - offset;
  const float y0 = float(rois[4 * r + 1]) * p.spatial_scale - offset;
  float roi_w = float(rois[4 * r + 2]) * p.spatial_scale - offset - x0;
  float roi_h = float(rois[4 * r + 3]) * p.spatial_scale - offset - y0;
  if (!p.half_pixel) {
    roi_w = max(roi_w, 1.0f);
    roi_h = max(roi_h, 1.0f);
  }
  const float bin_h = roi_h / float(p.out_h), bin_w = roi_w / float(p.out_w);
  const int grid_h = p.sampling_ratio > 0 ? p.sampling_ratio : int(ceil(roi_h / float(p.out_h)));
  const int grid_w = p.sampling_ratio > 0 ? p.sampling_ratio : int(ceil(roi_w / float(p.out_w)));
  const float count = float(max(grid_h * grid_w, 1));
  device const T* src = x + (b * p.channels + c) * p.height * p.width;
  const float h = float(p.height), w = float(p.width);
  float acc = 0.0f;
  bool first = true;
  for (int iy = 0; iy < grid_h; ++iy) {
    float sy = y0 + float(ph) * bin_h + (float(iy) + 0.5f) * bin_h / float(grid_h);
    for (int ix = 0; ix < grid_w; ++ix) {
      float sx = x0 + float(pw) * bin_w + (float(ix) + 0.5f) * bin_w / float(grid_w);
      float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      if (!(sy < -1.0f || sy > h || sx < -1.0f || sx > w)) {
        sy = max(sy, 0.0f);
        sx = max(sx, 0.0f);
        uint ylo = uint(sy), xlo = uint(sx), yhi, xhi;
        if (ylo >= p.height - 1) {
          ylo = yhi = p.height - 1;
          sy = float(ylo);
        } else {
          yhi = ylo + 1;
        }
        if (xlo >= p.width - 1) {
          xlo = xhi = p.width - 1;
          sx = float(xlo);
        } else {
          xhi = xlo + 1;
        }
        const float ly = sy - float(ylo), lx = sx - float(xlo), hy = 1.0f - ly, hx = 1.0f - lx;
        v[0] = hy * hx * float(src[ylo * p.width + xlo]);
        v[1] = hy * lx * float(src[ylo * p.width + xhi]);
        v[2] = ly * hx * float(src[yhi * p.width + xlo]);
        v[3] = ly * lx * float(src[yhi * p.width + xhi]);
      }
      if (p.max_mode) {
        const float m = max(max(v[0], v[1]), max(v[2], v[3]));
        acc = first ? m : max(acc, m);
        first = false;
      } else {
        acc += v[0] + v[1] + v[2] + v[3];
      }
    }
  }
  y[gid] = T(p.max_mode ? acc : acc / count);
}

#define instantiate_roi_align(dtype, T, _) instantiate_kernel(roi_align, bilinear, dtype, roi_align<T>)
MNN_FLOAT_TYPES(instantiate_roi_align, )
