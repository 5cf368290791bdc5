// Resize kernel: separable, one pass per resized axis over the tensor viewed as [outer, in, inner] ->
// [outer, out, inner] (through scratch buffers, the last pass into the output). Each output coordinate
// maps to an input coordinate once at compile time (ONNX's formulas, in double like the reference),
// then to one source row (nearest, any dtype) or two weighted rows (linear, float32), or to the
// extrapolation value outside a tf_crop_and_resize box.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/ops/resize.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"

namespace metalnn::cpu {

namespace {

struct Tap {
  int64_t i0, i1;  // source rows
  float w1;        // weight of i1 (linear); the row is i0 alone when nearest
  bool outside;    // tf_crop_and_resize: fill with the extrapolation value
};

struct AxisPass {
  int64_t outer, in, out, inner;
  std::vector<Tap> taps;
};

double original_coordinate(const std::string& mode, double x, double scale, int64_t in, int64_t out, double start,
                           double end) {
  // The resized length is scale * in, fractional when the scale does not divide evenly, as in ONNX's
  // reference (ONNX Runtime uses the integer output length for align_corners and pytorch_half_pixel).
  const double resized = scale * static_cast<double>(in);
  if (mode == "align_corners") return resized == 1 ? 0 : x * static_cast<double>(in - 1) / (resized - 1);
  if (mode == "asymmetric") return x / scale;
  if (mode == "tf_crop_and_resize") {
    const double span = (end - start) * static_cast<double>(in - 1);
    return start * static_cast<double>(in - 1) + (resized == 1 ? span / 2 : x * span / (resized - 1));
  }
  if (mode == "pytorch_half_pixel") return resized == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
  if (mode == "half_pixel_symmetric") {
    const double offset = static_cast<double>(in) / 2 * (1 - static_cast<double>(out) / resized);
    return offset + (x + 0.5) / scale - 0.5;
  }
  return (x + 0.5) / scale - 0.5;  // half_pixel
}

int64_t nearest_index(const std::string& mode, double x) {
  const double f = std::floor(x);
  if (x == f) return static_cast<int64_t>(f);
  const double frac = x - f;
  bool up;
  if (mode == "floor") up = false;
  else if (mode == "ceil") up = true;
  else if (mode == "round_prefer_ceil") up = frac >= 0.5;
  else up = frac > 0.5;  // round_prefer_floor
  return static_cast<int64_t>(f) + (up ? 1 : 0);
}

class ResizeKernel : public Kernel {
 public:
  ResizeKernel(const Graph& g, const Node& n)
      : linear_(n.attrs.get_string("mode", "nearest") == "linear"),
        extrapolation_(n.attrs.get_float("extrapolation_value", 0.f)),
        elem_size_(dtype_size(input_value(g, n, 0).dtype)) {
    const Shape& in = input_value(g, n, 0).shape;
    const ResizeGeometry geo =
        resolve_resize(n, in, constant_input(g, n, 1), constant_input(g, n, 2), constant_input(g, n, 3));
    const std::string coords = n.attrs.get_string("coordinate_transformation_mode", "half_pixel");
    const std::string nearest = n.attrs.get_string("nearest_mode", "round_prefer_floor");
    Shape cur = in;
    for (size_t d = 0; d < in.size(); ++d) {
      const bool crop = coords == "tf_crop_and_resize" && (geo.roi_start[d] != 0 || geo.roi_end[d] != 1);
      if (geo.out[d] == in[d] && geo.scale[d] == 1.0 && !crop) continue;  // identity on this axis
      AxisPass p{shape_numel(Shape(cur.begin(), cur.begin() + d)), in[d], geo.out[d],
                 shape_numel(Shape(cur.begin() + d + 1, cur.end())), {}};
      for (int64_t o = 0; o < p.out; ++o) {
        const double x = original_coordinate(coords, static_cast<double>(o), geo.scale[d], in[d], geo.out[d],
                                             geo.roi_start[d], geo.roi_end[d]);
        Tap t{0, 0, 0.f, coords == "tf_crop_and_resize" && (x < 0 || x > static_cast<double>(in[d] - 1))};
        auto clamp = [&](int64_t i) { return std::min<int64_t>(std::max<int64_t>(i, 0), in[d] - 1); };
        if (linear_) {
          const double f = std::floor(x);
          t.i0 = clamp(static_cast<int64_t>(f));
          t.i1 = clamp(static_cast<int64_t>(f) + 1);
          t.w1 = static_cast<float>(x - f);
        } else {
          t.i0 = t.i1 = clamp(nearest_index(nearest, x));
        }
        p.taps.push_back(t);
      }
      cur[d] = geo.out[d];
      passes_.push_back(std::move(p));
    }
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    if (passes_.empty()) {
      std::memcpy(out[0]->raw(), in[0]->raw(), in[0]->nbytes());
      return;
    }
    std::vector<char> scratch[2];
    const char* src = static_cast<const char*>(in[0]->raw());
    for (size_t k = 0; k < passes_.size(); ++k) {
      const AxisPass& p = passes_[k];
      char* dst = static_cast<char*>(out[0]->raw());
      if (k + 1 < passes_.size()) {
        scratch[k % 2].resize(static_cast<size_t>(p.outer * p.out * p.inner) * elem_size_);
        dst = scratch[k % 2].data();
      }
      run_pass(p, src, dst, pool);
      src = dst;
    }
  }

 private:
  void run_pass(const AxisPass& p, const char* src, char* dst, ThreadPool& pool) const {
    const size_t row_bytes = static_cast<size_t>(p.inner) * elem_size_;
    pool.parallel_for(p.outer * p.out, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, p.inner)),
                      [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t o = r / p.out;
        const Tap& t = p.taps[r % p.out];
        char* d = dst + r * row_bytes;
        const char* base = src + o * p.in * row_bytes;
        if (t.outside) {
          std::fill_n(reinterpret_cast<float*>(d), p.inner, extrapolation_);  // float32 (the schema checks)
        } else if (!linear_) {
          std::memcpy(d, base + t.i0 * row_bytes, row_bytes);
        } else {
          const float* a = reinterpret_cast<const float*>(base + t.i0 * row_bytes);
          const float* c = reinterpret_cast<const float*>(base + t.i1 * row_bytes);
          float* y = reinterpret_cast<float*>(d);
          const float w0 = 1.f - t.w1, w1 = t.w1;
          for (int64_t i = 0; i < p.inner; ++i) y[i] = w0 * a[i] + w1 * c[i];
        }
      }
    });
  }

  bool linear_;
  float extrapolation_;
  size_t elem_size_;
  std::vector<AxisPass> passes_;
};

}  // namespace

std::unique_ptr<Kernel> make_resize_kernel(const Graph& g, const Node& n) { return std::make_unique<ResizeKernel>(g, n); }

}  // namespace metalnn::cpu
