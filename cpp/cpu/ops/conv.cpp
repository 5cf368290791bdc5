// Conv on the CPU, NCHW float32, three paths chosen once per node: depthwise (own kernel), 1x1
// stride-1 unpadded (a GEMM straight on the input), and the rest (im2col tiles + GEMM). The GEMM
// takes the weight [OC/g, IC/g*KH*KW] as A, so its output lands in NCHW directly; bias and the fused
// activation run on each output tile right after its GEMM. ONNX's weight layout is already that A
// matrix, so constant weights need no packing.
#include <algorithm>
#include <vector>

#include "core/ops/window.h"
#include "cpu/blas.h"
#include "cpu/depthwise_conv.h"
#include "cpu/epilogue.h"
#include "cpu/im2col.h"
#include "cpu/kernel.h"

namespace metalnn::cpu {

namespace {

// im2col scratch bound (floats): large images are unfolded a tile of output positions at a time.
constexpr int64_t kMaxColumnFloats = int64_t{1} << 21;

class ConvKernel : public Kernel {
 public:
  ConvKernel(const Graph& g, const Node& n) : act_(Activation::of_node(n)) {
    const Shape& x = g.value(n.inputs[0]).shape;
    const Shape& w = g.value(n.inputs[1]).shape;
    win_ = to_window2d(resolve_window(n, std::vector<int64_t>(x.begin() + 2, x.end()),
                                      std::vector<int64_t>(w.begin() + 2, w.end()), false));
    group_ = n.attrs.get_int("group", 1);
    in_c_ = x[1];
    out_c_ = w[0];
    if (group_ > 1 && group_ == in_c_ && out_c_ == in_c_) {
      path_ = Path::Depthwise;
    } else if (win_.kernel_size() == 1 && win_.stride_h == 1 && win_.stride_w == 1 && win_.pad_top == 0 &&
               win_.pad_left == 0 && win_.pad_bottom == 0 && win_.pad_right == 0) {
      path_ = Path::Pointwise;
    } else {
      path_ = Path::Im2col;
      const int64_t k = in_c_ / group_ * win_.kernel_size();
      tile_ = std::min(win_.out_size(), std::max<int64_t>(256, kMaxColumnFloats / k));
      col_.resize(static_cast<size_t>(k * tile_));
    }
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const float* x = in[0]->data<float>();
    const float* w = in[1]->data<float>();
    const float* bias = in.size() > 2 && in[2] ? in[2]->data<float>() : nullptr;
    float* y = out[0]->data<float>();
    const int64_t batch = in[0]->dim(0);
    if (path_ == Path::Depthwise) {
      depthwise_conv2d(x, w, bias, y, batch, in_c_, win_, act_, pool);
      return;
    }
    const int64_t ic = in_c_ / group_, oc = out_c_ / group_, k = ic * win_.kernel_size();
    const int64_t in_hw = win_.in_size(), out_hw = win_.out_size();
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t g = 0; g < group_; ++g) {
        const float* xg = x + (b * in_c_ + g * ic) * in_hw;
        const float* wg = w + g * oc * k;
        const float* bg = bias ? bias + g * oc : nullptr;
        float* yg = y + (b * out_c_ + g * oc) * out_hw;
        if (path_ == Path::Pointwise) {
          sgemm(false, false, int(oc), int(out_hw), int(k), 1.f, wg, int(k), xg, int(out_hw), 0.f, yg, int(out_hw));
          bias_activation(yg, oc, out_hw, out_hw, bg, nullptr, act_, pool);
          continue;
        }
        for (int64_t p0 = 0; p0 < out_hw; p0 += tile_) {
          const int64_t cols = std::min(tile_, out_hw - p0);
          im2col(xg, ic, win_, p0, p0 + cols, col_.data(), pool);
          sgemm(false, false, int(oc), int(cols), int(k), 1.f, wg, int(k), col_.data(), int(cols), 0.f, yg + p0,
                int(out_hw));
          bias_activation(yg + p0, oc, cols, out_hw, bg, nullptr, act_, pool);
        }
      }
    }
  }

 private:
  enum class Path { Depthwise, Pointwise, Im2col };
  Activation act_;
  Window2d win_{};
  int64_t group_ = 1, in_c_ = 0, out_c_ = 0;
  Path path_ = Path::Im2col;
  int64_t tile_ = 0;          // output positions per im2col tile
  std::vector<float> col_;    // im2col scratch, reused by every run (runs of one kernel never overlap)
};

}  // namespace

std::unique_ptr<Kernel> make_conv_kernel(const Graph& g, const Node& n) { return std::make_unique<ConvKernel>(g, n); }

}  // namespace metalnn::cpu
