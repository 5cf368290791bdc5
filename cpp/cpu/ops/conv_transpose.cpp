// ConvTranspose on the CPU, NCHW float32 (1-D as 2-D of height 1). Per image and group one GEMM,
// W_g^T [M/g * KH * KW, C/g] x X_g [C/g, IH * IW], gives every tap's contribution in a column matrix;
// col2im then scatters it into the output, each task owning whole output channels so no two write
// the same element. The GEMM runs outside the pool (BLAS threads itself).
#include <algorithm>
#include <vector>

#include "core/ops/conv_transpose.h"
#include "cpu/blas.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"
#include "core/ops/window2d.h"

namespace metalnn::cpu {

namespace {

class ConvTransposeKernel : public Kernel {
 public:
  ConvTransposeKernel(const Graph& g, const Node& n) {
    const Shape& x = input_value(g, n, 0).shape;
    const Shape& w = input_value(g, n, 1).shape;
    // The Conv from output to input whose adjoint this is: its "in" is our output.
    win_ = to_window2d(resolve_transposed_window(n, x, w).as_conv_window());
    batch_ = x[0];
    group_ = n.attrs.get_int("group", 1);
    in_c_ = x[1] / group_;
    out_c_ = w[1];
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const float* x = in[0]->data<float>();
    const float* w = in[1]->data<float>();
    const float* bias = in.size() > 2 && in[2] ? in[2]->data<float>() : nullptr;
    float* y = out[0]->data<float>();
    const int64_t in_size = win_.out_size(), out_size = win_.in_size(), taps = win_.kernel_size();
    const int64_t rows = out_c_ * taps;
    std::vector<float> col(static_cast<size_t>(rows * in_size));
    for (int64_t b = 0; b < batch_; ++b) {
      for (int64_t g = 0; g < group_; ++g) {
        const float* xg = x + (b * group_ + g) * in_c_ * in_size;
        const float* wg = w + g * in_c_ * rows;
        sgemm(true, false, static_cast<int>(rows), static_cast<int>(in_size), static_cast<int>(in_c_), 1.f, wg,
              static_cast<int>(rows), xg, static_cast<int>(in_size), 0.f, col.data(), static_cast<int>(in_size));
        float* yg = y + (b * group_ + g) * out_c_ * out_size;
        pool.parallel_for(out_c_, 1, [&](int64_t m0, int64_t m1) {
          for (int64_t m = m0; m < m1; ++m) {
            const float fill = bias ? bias[g * out_c_ + m] : 0.f;
            std::fill(yg + m * out_size, yg + (m + 1) * out_size, fill);
            col2im(col.data() + m * taps * in_size, yg + m * out_size);
          }
        });
      }
    }
  }

 private:
  // Adds one output channel's taps ([KH * KW, IH * IW]) into its plane ([OH, OW]).
  void col2im(const float* col, float* plane) const {
    const Window2d& v = win_;
    for (int64_t kh = 0; kh < v.kernel_h; ++kh) {
      const int64_t oy = kh * v.dilation_h - v.pad_top;
      const IndexRange rows = valid_range(oy, v.stride_h, v.out_h, v.in_h);
      for (int64_t kw = 0; kw < v.kernel_w; ++kw) {
        const int64_t ox = kw * v.dilation_w - v.pad_left;
        const IndexRange cols = valid_range(ox, v.stride_w, v.out_w, v.in_w);
        const float* src = col + (kh * v.kernel_w + kw) * v.out_size();
        for (int64_t ih = rows.lo; ih < rows.hi; ++ih) {
          float* dst = plane + (oy + ih * v.stride_h) * v.in_w + ox;
          const float* s = src + ih * v.out_w;
          for (int64_t iw = cols.lo; iw < cols.hi; ++iw) dst[iw * v.stride_w] += s[iw];
        }
      }
    }
  }

  Window2d win_{};
  int64_t batch_ = 1, group_ = 1, in_c_ = 1, out_c_ = 1;
};

}  // namespace

std::unique_ptr<Kernel> make_conv_transpose_kernel(const Graph& g, const Node& n) {
  return std::make_unique<ConvTransposeKernel>(g, n);
}

}  // namespace metalnn::cpu
