// Softmax / LogSoftmax on the CPU, float32: the tensor is viewed as [outer, axis, inner] (for
// `_coerce_2d`, as [outer, axis * inner, 1]); contiguous rows when inner == 1, otherwise a block of
// inner positions at a time, reduced along the strided axis. Rows use the vectorised exp.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/ops/axis.h"
#include "cpu/kernel.h"
#include "cpu/vector_math.h"

namespace metalnn::cpu {

namespace {

class SoftmaxKernel : public Kernel {
 public:
  SoftmaxKernel(const Graph& g, const Node& n) : log_(n.op_type == "LogSoftmax") {
    const Shape& x = g.value(n.inputs[0]).shape;
    const int rank = static_cast<int>(x.size());
    const bool coerce_2d = n.attrs.get_int("_coerce_2d", 0) != 0;
    const int64_t axis = node_axis(n, rank, coerce_2d ? 1 : -1);
    const AxisSplit split = coerce_2d ? split_from_axis(x, axis) : split_at_axis(x, axis);
    outer_ = split.outer, axis_ = split.axis, inner_ = split.inner;
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    if (axis_ == 0) return;
    if (inner_ == 1) {
      pool.parallel_for(outer_, std::max<int64_t>(1, 8192 / axis_), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) row(x + r * axis_, y + r * axis_);
      });
      return;
    }
    constexpr int64_t kBlock = 256;
    const int64_t blocks = (inner_ + kBlock - 1) / kBlock;
    pool.parallel_for(outer_ * blocks, 1, [&](int64_t t0, int64_t t1) {
      std::vector<float> mx(kBlock), sum(kBlock);
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t o = t / blocks, i0 = (t % blocks) * kBlock, len = std::min(kBlock, inner_ - i0);
        const float* src = x + o * axis_ * inner_ + i0;
        float* dst = y + o * axis_ * inner_ + i0;
        std::fill(mx.begin(), mx.begin() + len, -std::numeric_limits<float>::infinity());
        std::fill(sum.begin(), sum.begin() + len, 0.f);
        for (int64_t a = 0; a < axis_; ++a)
          for (int64_t i = 0; i < len; ++i) mx[i] = std::max(mx[i], src[a * inner_ + i]);
        for (int64_t a = 0; a < axis_; ++a)
          for (int64_t i = 0; i < len; ++i) {
            const float e = std::exp(src[a * inner_ + i] - mx[i]);
            sum[i] += e;
            if (!log_) dst[a * inner_ + i] = e;
          }
        for (int64_t i = 0; i < len; ++i) sum[i] = log_ ? mx[i] + std::log(sum[i]) : 1.f / sum[i];
        for (int64_t a = 0; a < axis_; ++a)
          for (int64_t i = 0; i < len; ++i)
            dst[a * inner_ + i] = log_ ? src[a * inner_ + i] - sum[i] : dst[a * inner_ + i] * sum[i];
      }
    });
  }

 private:
  void row(const float* x, float* y) const {
    const float mx = max_of(x, axis_);
    const float sum = exp_shifted_sum(x, y, axis_, mx);  // LogSoftmax overwrites y below
    if (log_) {
      const float shift = mx + std::log(sum);
      for (int64_t i = 0; i < axis_; ++i) y[i] = x[i] - shift;
    } else {
      scale(y, y, axis_, 1.f / sum);
    }
  }

  bool log_;
  int64_t outer_ = 1, axis_ = 1, inner_ = 1;
};

}  // namespace

std::unique_ptr<Kernel> make_softmax_kernel(const Graph& g, const Node& n) {
  return std::make_unique<SoftmaxKernel>(g, n);
}

}  // namespace metalnn::cpu
