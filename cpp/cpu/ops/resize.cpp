// Resize kernel: separable, one pass per resized axis over the tensor viewed as [outer, in, inner] ->
// [outer, out, inner] (through scratch buffers, the last pass into the output). Each output coordinate
// maps to an input coordinate once at compile time (ONNX's formulas, in double like the reference),
// then to one source row (nearest, any dtype), two weighted rows (linear, float32), a weighted run of
// rows (cubic and antialiased linear, float32), or the extrapolation value outside a
// tf_crop_and_resize box.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/ops/resize.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"

namespace metalnn::cpu {

namespace {

struct AxisPass {
  int64_t outer, in, out, inner;
  std::vector<ResizeTap> taps;  // nearest and linear
  ResizeFilter filter;          // cubic and antialiased linear
};

class ResizeKernel : public Kernel {
 public:
  ResizeKernel(const Graph& g, const Node& n)
      : linear_(n.attrs.get_string("mode", "nearest") == "linear"),
        filtered_(resize_uses_filter(n)),
        extrapolation_(n.attrs.get_float("extrapolation_value", 0.f)),
        elem_size_(dtype_size(input_value(g, n, 0).dtype)) {
    const Shape& in = input_value(g, n, 0).shape;
    const ResizeGeometry geo =
        resolve_resize(n, in, constant_input(g, n, 1), constant_input(g, n, 2), constant_input(g, n, 3));
    const std::string coords = n.attrs.get_string("coordinate_transformation_mode", "half_pixel");
    Shape cur = in;
    empty_ = shape_numel(geo.out) == 0;  // nothing to write, and no tables for the long axes of an empty output
    // Axes that shrink first, then those that grow least; on a tie the innermost first: its pass, one
    // element per row, then runs on the smaller tensor, and the passes after it on whole rows.
    std::vector<size_t> order;
    for (size_t d = 0; d < in.size(); ++d) order.push_back(d);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      const double ga = double(geo.out[a]) / double(std::max<int64_t>(in[a], 1));
      const double gb = double(geo.out[b]) / double(std::max<int64_t>(in[b], 1));
      return ga != gb ? ga < gb : a > b;
    });
    for (size_t d : order) {
      if (empty_) break;
      const bool crop = coords == "tf_crop_and_resize" && (geo.roi_start[d] != 0 || geo.roi_end[d] != 1);
      if (geo.out[d] == in[d] && geo.scale[d] == 1.0 && !crop) continue;  // identity on this axis
      AxisPass p{shape_numel(Shape(cur.begin(), cur.begin() + d)), in[d], geo.out[d],
                 shape_numel(Shape(cur.begin() + d + 1, cur.end())), {}};
      if (filtered_) p.filter = resize_axis_filter(n, geo, in, d);
      else p.taps = resize_axis_taps(n, geo, in, d);
      cur[d] = geo.out[d];
      passes_.push_back(std::move(p));
    }
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    if (empty_) return;
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
    if (p.inner == 1 && linear_ && !filtered_) return run_linear_last(p, reinterpret_cast<const float*>(src),
                                                                       reinterpret_cast<float*>(dst), pool);
    const size_t row_bytes = static_cast<size_t>(p.inner) * elem_size_;
    pool.parallel_for(p.outer * p.out, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, p.inner)),
                      [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t o = r / p.out;
        char* d = dst + r * row_bytes;
        const char* base = src + o * p.in * row_bytes;
        if (filtered_) {
          filter_row(p.filter, r % p.out, base, row_bytes, p.inner, reinterpret_cast<float*>(d));
          continue;
        }
        const ResizeTap& t = p.taps[r % p.out];
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

  // A linear pass over the innermost axis: per row of the input, every output blends two of its elements.
  void run_linear_last(const AxisPass& p, const float* src, float* dst, ThreadPool& pool) const {
    pool.parallel_for(p.outer, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, p.out)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const float* x = src + o * p.in;
        float* y = dst + o * p.out;
        for (int64_t j = 0; j < p.out; ++j) {
          const ResizeTap& t = p.taps[size_t(j)];
          y[j] = t.outside ? extrapolation_ : (1.f - t.w1) * x[t.i0] + t.w1 * x[t.i1];
        }
      }
    });
  }

  void filter_row(const ResizeFilter& f, int64_t j, const char* base, size_t row_bytes, int64_t inner,
                  float* y) const {
    if (f.outside[static_cast<size_t>(j)]) {
      std::fill_n(y, inner, extrapolation_);
      return;
    }
    std::fill_n(y, inner, 0.f);
    for (int64_t k = f.first[j]; k < f.first[j + 1]; ++k) {
      const float* s = reinterpret_cast<const float*>(base + f.index[k] * row_bytes);
      const float w = f.weight[k];
      for (int64_t i = 0; i < inner; ++i) y[i] += w * s[i];
    }
  }

  bool linear_;
  bool filtered_;
  bool empty_;
  float extrapolation_;
  size_t elem_size_;
  std::vector<AxisPass> passes_;
};

}  // namespace

std::unique_ptr<Kernel> make_resize_kernel(const Graph& g, const Node& n) { return std::make_unique<ResizeKernel>(g, n); }

}  // namespace metalnn::cpu
