// ReduceMean/Sum/Max/Min kernel. The input's dims are merged into alternating kept/reduced groups and
// every output element is out[k * T + t] = reduce over r, j of in[kept[k] + red[r] + j + t], where
// either the innermost group is reduced (T = 1, j runs along it: contiguous row reductions) or it is
// kept (j = 0, t runs along it: contiguous rows accumulated elementwise). Both split over the
// outputs, so threads never write the same element.
#include <algorithm>
#include <limits>
#include <type_traits>

#include "core/ops/reduce.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"

namespace metalnn::cpu {

namespace {

constexpr int64_t kReduceGrain = 1 << 15;  // input elements per task

struct Sum {
  template <class T> static T init() { return T(0); }
  template <class T> static T combine(T a, T b) { return a + b; }
};
struct Max {
  template <class T> static T init() {
    return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
  }
  template <class T> static T combine(T a, T b) { return a < b ? b : a; }
};
struct Min {
  template <class T> static T init() {
    return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
  }
  template <class T> static T combine(T a, T b) { return b < a ? b : a; }
};

// Four independent accumulators: shorter dependency chains and better float sums than one.
template <class Op, class T>
T reduce_run(const T* x, int64_t n) {
  T a0 = Op::template init<T>(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a0 = Op::combine(a0, x[i]);
    a1 = Op::combine(a1, x[i + 1]);
    a2 = Op::combine(a2, x[i + 2]);
    a3 = Op::combine(a3, x[i + 3]);
  }
  for (; i < n; ++i) a0 = Op::combine(a0, x[i]);
  return Op::combine(Op::combine(a0, a1), Op::combine(a2, a3));
}

// Row-major offsets of every index of the given (size, stride) groups.
std::vector<int64_t> enumerate_offsets(const std::vector<std::pair<int64_t, int64_t>>& groups) {
  std::vector<int64_t> offsets{0};
  for (const auto& [size, stride] : groups) {
    std::vector<int64_t> next;
    next.reserve(offsets.size() * static_cast<size_t>(size));
    for (int64_t base : offsets)
      for (int64_t i = 0; i < size; ++i) next.push_back(base + i * stride);
    offsets = std::move(next);
  }
  return offsets;
}

class ReduceKernel : public Kernel {
 public:
  ReduceKernel(const Graph& g, const Node& n) {
    const Value& in = input_value(g, n, 0);
    const std::vector<char> mask = reduced_axes(static_cast<int>(in.shape.size()), constant_input(g, n, 1), n.attrs);
    op_ = n.op_type;
    // Merge dims into groups of equal kind; size-1 dims change nothing.
    struct Group {
      int64_t size;
      bool reduced;
    };
    std::vector<Group> groups;
    for (size_t d = 0; d < in.shape.size(); ++d) {
      if (mask[d]) count_ *= in.shape[d];
      if (in.shape[d] == 1) continue;
      if (!groups.empty() && groups.back().reduced == static_cast<bool>(mask[d])) groups.back().size *= in.shape[d];
      else groups.push_back({in.shape[d], static_cast<bool>(mask[d])});
    }
    std::vector<std::pair<int64_t, int64_t>> kept, reduced;  // (size, stride)
    int64_t stride = 1;
    for (auto it = groups.rbegin(); it != groups.rend(); ++it) {
      auto& list = it->reduced ? reduced : kept;
      list.insert(list.begin(), {it->size, stride});
      stride *= it->size;
    }
    if (!groups.empty() && groups.back().reduced) {
      run_ = reduced.back().first;
      reduced.pop_back();
    } else if (!groups.empty()) {
      row_ = kept.back().first;
      kept.pop_back();
    }
    kept_ = enumerate_offsets(kept);
    reduced_ = enumerate_offsets(reduced);
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    visit_dtype<DType::Float32, DType::Int64, DType::Int32, DType::Bool>(in[0]->dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* x = in[0]->data<T>();
      T* y = out[0]->data<T>();
      if (op_ == "ReduceMax") reduce<Max>(x, y, pool);
      else if (op_ == "ReduceMin") reduce<Min>(x, y, pool);
      else if constexpr (!std::is_same_v<T, bool>) reduce<Sum>(x, y, pool);  // the schema allows bool for Max/Min only
    });
  }

 private:
  template <class Op, class T>
  void reduce(const T* x, T* y, ThreadPool& pool) const {
    const bool mean = op_ == "ReduceMean";
    auto finish = [&](T v) -> T {
      if (!mean) return v;
      if constexpr (std::is_integral_v<T>) return count_ == 0 ? T(0) : static_cast<T>(v / count_);
      else return v / static_cast<T>(count_);
    };
    const int64_t work_per_output = std::max<int64_t>(1, static_cast<int64_t>(reduced_.size()) * run_);
    const int64_t grain = std::max<int64_t>(1, kReduceGrain / work_per_output);
    const int64_t outputs = static_cast<int64_t>(kept_.size()) * row_;
    pool.parallel_for(outputs, grain, [&](int64_t b, int64_t e) {
      if (row_ == 1) {
        for (int64_t k = b; k < e; ++k) {
          T acc = Op::template init<T>();
          for (int64_t r : reduced_) acc = Op::combine(acc, reduce_run<Op>(x + kept_[k] + r, run_));
          y[k] = finish(acc);
        }
        return;
      }
      // Output range [b, e) cut into pieces of rows: [t0, t1) of row k.
      for (int64_t k = b / row_; k * row_ < e; ++k) {
        const int64_t t0 = std::max(b - k * row_, int64_t{0}), t1 = std::min(e - k * row_, row_);
        T* out = y + k * row_;
        std::fill(out + t0, out + t1, Op::template init<T>());
        for (int64_t r : reduced_) {
          const T* src = x + kept_[k] + r;
          for (int64_t t = t0; t < t1; ++t) out[t] = Op::combine(out[t], src[t]);
        }
        for (int64_t t = t0; t < t1; ++t) out[t] = finish(out[t]);
      }
    });
  }

  std::string op_;
  int64_t count_ = 1;  // elements reduced into each output (ReduceMean's divisor)
  int64_t run_ = 1;    // contiguous elements reduced per (k, r) when the innermost group is reduced
  int64_t row_ = 1;    // contiguous outputs per k when the innermost group is kept
  std::vector<int64_t> kept_, reduced_;
};

}  // namespace

std::unique_ptr<Kernel> make_reduce_kernel(const Graph& g, const Node& n) { return std::make_unique<ReduceKernel>(g, n); }

}  // namespace metalnn::cpu
