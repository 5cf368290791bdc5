// Trilu kernel, any dtype (moved by element size): each matrix of the last two dims keeps element
// (i, j) when j - i >= k (upper) or j - i <= k (lower) and zeroes it otherwise.
#include <algorithm>
#include <cstring>

#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"

namespace metalnn::cpu {

namespace {

class TriluKernel : public Kernel {
 public:
  TriluKernel(const Graph& g, const Node& n) : upper_(n.attrs.get_int("upper", 1) != 0) {
    const Value& x = input_value(g, n, 0);
    elem_size_ = dtype_size(x.dtype);
    rows_ = x.shape[x.shape.size() - 2];
    cols_ = x.shape.back();
    matrices_ = rows_ * cols_ == 0 ? 0 : shape_numel(x.shape) / (rows_ * cols_);
    const std::vector<int64_t> k = constant_ints(g, n, 1);
    k_ = k.empty() ? 0 : std::clamp<int64_t>(k[0], -rows_ - 1, cols_ + 1);
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    visit_element_size(elem_size_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* x = static_cast<const T*>(in[0]->raw());
      T* y = static_cast<T*>(out[0]->raw());
      pool.parallel_for(matrices_ * rows_, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, cols_)),
                        [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
          const int64_t i = r % rows_;
          // Row i keeps columns [i + k, cols) (upper) or [0, i + k] (lower).
          const int64_t lo = upper_ ? std::clamp<int64_t>(i + k_, 0, cols_) : 0;
          const int64_t hi = upper_ ? cols_ : std::clamp<int64_t>(i + k_ + 1, 0, cols_);
          const T* xr = x + r * cols_;
          T* yr = y + r * cols_;
          for (int64_t j = 0; j < cols_; ++j) yr[j] = j >= lo && j < hi ? xr[j] : T(0);
        }
      });
    });
  }

 private:
  bool upper_;
  size_t elem_size_ = 4;
  int64_t rows_ = 0, cols_ = 0, matrices_ = 0, k_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_trilu_kernel(const Graph& g, const Node& n) { return std::make_unique<TriluKernel>(g, n); }

}  // namespace metalnn::cpu
