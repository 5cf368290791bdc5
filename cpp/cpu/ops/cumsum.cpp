// CumSum kernel (float32, int32, int64): the input viewed as [outer, axis, inner]; each task runs whole
// axis columns for a range of (outer, inner) positions, summing in the input's dtype (float32 in
// float32, as ONNX Runtime does).
#include <algorithm>

#include "core/ops/axis.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"

namespace metalnn::cpu {

namespace {

class CumSumKernel : public Kernel {
 public:
  CumSumKernel(const Graph& g, const Node& n)
      : exclusive_(n.attrs.get_int("exclusive", 0) != 0), reverse_(n.attrs.get_int("reverse", 0) != 0) {
    const Shape& x = input_value(g, n, 0).shape;
    const int64_t rank = int64_t(x.size());
    int64_t axis = constant_ints(g, n, 1).at(0);
    if (axis < 0) axis += rank;
    const AxisSplit split = split_at_axis(x, axis);
    outer_ = split.outer, axis_ = split.axis, inner_ = split.inner;
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    if (axis_ == 0) return;
    visit_numeric_dtype(in[0]->dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* x = in[0]->data<T>();
      T* y = out[0]->data<T>();
      const int64_t step = reverse_ ? -inner_ : inner_;
      pool.parallel_for(outer_ * inner_, std::max<int64_t>(1, 8192 / axis_), [&](int64_t b, int64_t e) {
        for (int64_t p = b; p < e; ++p) {
          int64_t at = (p / inner_) * axis_ * inner_ + p % inner_ + (reverse_ ? (axis_ - 1) * inner_ : 0);
          T sum = T(0);
          for (int64_t a = 0; a < axis_; ++a, at += step) {
            if (exclusive_) {
              y[at] = sum;
              sum = T(sum + x[at]);
            } else {
              sum = T(sum + x[at]);
              y[at] = sum;
            }
          }
        }
      });
    });
  }

 private:
  bool exclusive_, reverse_;
  int64_t outer_ = 1, axis_ = 1, inner_ = 1;
};

}  // namespace

std::unique_ptr<Kernel> make_cumsum_kernel(const Graph& g, const Node& n) { return std::make_unique<CumSumKernel>(g, n); }

}  // namespace metalnn::cpu
