// RoiAlign kernel, float32: each roi's box (scaled by spatial_scale, shifted half a pixel in
// half_pixel mode) is cut into output_height x output_width bins; each bin averages (avg) or takes the
// largest (max) of grid_h x grid_w bilinear samples, grid = sampling_ratio or ceil(bin size) when 0.
// Arithmetic in float, sample by sample, as ONNX Runtime does. Parallel over (roi, channel).
#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"

namespace metalnn::cpu {

namespace {

// One bilinear sample: the four corner offsets into an H x W plane and their weights (all zero when
// the point lies more than a pixel outside the plane).
struct Sample {
  int64_t offset[4];
  float weight[4];
};

Sample bilinear_sample(float y, float x, int64_t h, int64_t w) {
  Sample s{{0, 0, 0, 0}, {0.f, 0.f, 0.f, 0.f}};
  if (y < -1.f || y > static_cast<float>(h) || x < -1.f || x > static_cast<float>(w)) return s;
  y = std::max(y, 0.f);
  x = std::max(x, 0.f);
  int64_t y0 = static_cast<int64_t>(y), x0 = static_cast<int64_t>(x), y1, x1;
  if (y0 >= h - 1) {
    y0 = y1 = h - 1;
    y = static_cast<float>(y0);
  } else {
    y1 = y0 + 1;
  }
  if (x0 >= w - 1) {
    x0 = x1 = w - 1;
    x = static_cast<float>(x0);
  } else {
    x1 = x0 + 1;
  }
  const float ly = y - static_cast<float>(y0), lx = x - static_cast<float>(x0), hy = 1.f - ly, hx = 1.f - lx;
  s = {{y0 * w + x0, y0 * w + x1, y1 * w + x0, y1 * w + x1}, {hy * hx, hy * lx, ly * hx, ly * lx}};
  return s;
}

class RoiAlignKernel : public Kernel {
 public:
  RoiAlignKernel(const Graph& g, const Node& n)
      : label_(n.label()),
        max_(n.attrs.get_string("mode", "avg") == "max"),
        half_pixel_(n.attrs.get_string("coordinate_transformation_mode", "half_pixel") == "half_pixel"),
        out_h_(n.attrs.get_int("output_height", 1)),
        out_w_(n.attrs.get_int("output_width", 1)),
        sampling_ratio_(n.attrs.get_int("sampling_ratio", 0)),
        spatial_scale_(n.attrs.get_float("spatial_scale", 1.f)) {
    const Shape& x = input_value(g, n, 0).shape;
    batch_ = x[0];
    channels_ = x[1];
    h_ = x[2];
    w_ = x[3];
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const float* x = in[0]->data<float>();
    const float* rois = in[1]->data<float>();
    const int64_t* batch = in[2]->data<int64_t>();
    float* y = out[0]->data<float>();
    const int64_t num_rois = in[1]->shape()[0];
    for (int64_t r = 0; r < num_rois; ++r)
      if (batch[r] < 0 || batch[r] >= batch_)
        throw ShapeError(label_ + ": batch_indices[" + std::to_string(r) + "] = " + std::to_string(batch[r]) +
                         " is outside [0, " + std::to_string(batch_) + ")");
    const int64_t plane = out_h_ * out_w_;
    pool.parallel_for(num_rois * channels_, 1, [&](int64_t b, int64_t e) {
      for (int64_t rc = b; rc < e; ++rc) {
        const int64_t r = rc / channels_, c = rc % channels_;
        const float* box = rois + r * 4;
        const float offset = half_pixel_ ? 0.5f : 0.f;
        const float x0 = box[0] * spatial_scale_ - offset, y0 = box[1] * spatial_scale_ - offset;
        float roi_w = box[2] * spatial_scale_ - offset - x0, roi_h = box[3] * spatial_scale_ - offset - y0;
        if (!half_pixel_) {
          roi_w = std::max(roi_w, 1.f);
          roi_h = std::max(roi_h, 1.f);
        }
        const float bin_h = roi_h / static_cast<float>(out_h_), bin_w = roi_w / static_cast<float>(out_w_);
        const int64_t grid_h = sampling_ratio_ > 0 ? sampling_ratio_ : static_cast<int64_t>(std::ceil(roi_h / static_cast<float>(out_h_)));
        const int64_t grid_w = sampling_ratio_ > 0 ? sampling_ratio_ : static_cast<int64_t>(std::ceil(roi_w / static_cast<float>(out_w_)));
        const float count = static_cast<float>(std::max<int64_t>(grid_h * grid_w, 1));
        const float* src = x + (batch[r] * channels_ + c) * h_ * w_;
        float* dst = y + rc * plane;
        for (int64_t ph = 0; ph < out_h_; ++ph) {
          for (int64_t pw = 0; pw < out_w_; ++pw) {
            float acc = 0.f;
            bool first = true;
            for (int64_t iy = 0; iy < grid_h; ++iy) {
              const float sy = y0 + static_cast<float>(ph) * bin_h +
                               (static_cast<float>(iy) + 0.5f) * bin_h / static_cast<float>(grid_h);
              for (int64_t ix = 0; ix < grid_w; ++ix) {
                const float sx = x0 + static_cast<float>(pw) * bin_w +
                                 (static_cast<float>(ix) + 0.5f) * bin_w / static_cast<float>(grid_w);
                const Sample s = bilinear_sample(sy, sx, h_, w_);
                if (max_) {
                  float v = s.weight[0] * src[s.offset[0]];
                  for (int k = 1; k < 4; ++k) v = std::max(v, s.weight[k] * src[s.offset[k]]);
                  acc = first ? v : std::max(acc, v);
                  first = false;
                } else {
                  for (int k = 0; k < 4; ++k) acc += s.weight[k] * src[s.offset[k]];
                }
              }
            }
            dst[ph * out_w_ + pw] = max_ ? acc : acc / count;
          }
        }
      }
    });
  }

 private:
  std::string label_;
  bool max_, half_pixel_;
  int64_t out_h_, out_w_, sampling_ratio_;
  float spatial_scale_;
  int64_t batch_ = 0, channels_ = 0, h_ = 0, w_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_roi_align_kernel(const Graph& g, const Node& n) {
  return std::make_unique<RoiAlignKernel>(g, n);
}

}  // namespace metalnn::cpu
