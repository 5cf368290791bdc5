// ArgMax / ArgMin kernel: the input viewed as [outer, axis, inner]; each task scans whole axis
// columns for a range of (outer, inner) positions. Ties keep the first index, or the last with
// select_last_index.
#include <algorithm>

#include "core/ops/axis.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"

namespace metalnn::cpu {

namespace {

class ArgReduceKernel : public Kernel {
 public:
  ArgReduceKernel(const Graph& g, const Node& n)
      : max_(n.op_type == "ArgMax"), last_(n.attrs.get_int("select_last_index", 0) != 0) {
    const Shape& x = input_value(g, n, 0).shape;
    const int rank = static_cast<int>(x.size());
    const int64_t axis = node_axis(n, rank, 0);
    const AxisSplit split = split_at_axis(x, axis);
    outer_ = split.outer, axis_ = split.axis, inner_ = split.inner;
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    visit_numeric_dtype(in[0]->dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* x = in[0]->data<T>();
      int64_t* y = out[0]->data<int64_t>();
      pool.parallel_for(outer_ * inner_, std::max<int64_t>(1, 8192 / axis_), [&](int64_t b, int64_t e) {
        for (int64_t p = b; p < e; ++p) {
          const T* col = x + (p / inner_) * axis_ * inner_ + p % inner_;
          int64_t best = 0;
          for (int64_t a = 1; a < axis_; ++a) {
            const T v = col[a * inner_], cur = col[best * inner_];
            const bool better = max_ ? (last_ ? v >= cur : v > cur) : (last_ ? v <= cur : v < cur);
            if (better) best = a;
          }
          y[p] = best;
        }
      });
    });
  }

 private:
  bool max_, last_;
  int64_t outer_ = 1, axis_ = 1, inner_ = 1;
};

}  // namespace

std::unique_ptr<Kernel> make_arg_reduce_kernel(const Graph& g, const Node& n) {
  return std::make_unique<ArgReduceKernel>(g, n);
}

}  // namespace metalnn::cpu
