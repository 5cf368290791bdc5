// TopK kernel: the input viewed as [outer, axis, inner]; each (outer, inner) column is partially
// sorted by index into a per-task scratch. Equal values keep the lower index first, as ONNX requires;
// the output is always sorted (which sorted=0 allows).
#include <algorithm>
#include <numeric>
#include <vector>

#include "core/ops/axis.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"

namespace metalnn::cpu {

namespace {

class TopKKernel : public Kernel {
 public:
  TopKKernel(const Graph& g, const Node& n) : largest_(n.attrs.get_int("largest", 1) != 0) {
    const Shape& x = input_value(g, n, 0).shape;
    const int rank = static_cast<int>(x.size());
    const int64_t axis = node_axis(n, rank, -1);
    const AxisSplit split = split_at_axis(x, axis);
    outer_ = split.outer, axis_ = split.axis, inner_ = split.inner;
    k_ = output_value(g, n, 0).shape[axis];
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    if (k_ == 0) return;
    visit_numeric_dtype(in[0]->dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* x = in[0]->data<T>();
      T* values = out[0] ? out[0]->data<T>() : nullptr;
      int64_t* indices = out.size() > 1 && out[1] ? out[1]->data<int64_t>() : nullptr;
      pool.parallel_for(outer_ * inner_, std::max<int64_t>(1, 4096 / axis_), [&](int64_t b, int64_t e) {
        std::vector<int64_t> order(static_cast<size_t>(axis_));
        for (int64_t p = b; p < e; ++p) {
          const int64_t o = p / inner_, i = p % inner_;
          const T* col = x + o * axis_ * inner_ + i;
          std::iota(order.begin(), order.end(), int64_t{0});
          auto before = [&](int64_t a, int64_t c) {
            const T va = col[a * inner_], vc = col[c * inner_];
            if (va != vc) return largest_ ? va > vc : va < vc;
            return a < c;
          };
          std::partial_sort(order.begin(), order.begin() + k_, order.end(), before);
          for (int64_t j = 0; j < k_; ++j) {
            const int64_t at = (o * k_ + j) * inner_ + i;
            if (values) values[at] = col[order[j] * inner_];
            if (indices) indices[at] = order[j];
          }
        }
      });
    });
  }

 private:
  bool largest_;
  int64_t outer_ = 1, axis_ = 1, inner_ = 1, k_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_topk_kernel(const Graph& g, const Node& n) { return std::make_unique<TopKKernel>(g, n); }

}  // namespace metalnn::cpu
