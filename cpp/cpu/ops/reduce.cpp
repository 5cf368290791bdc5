// ReduceMean/Sum/Max/Min/Prod/L2/LogSumExp kernel. The input's dims are merged into alternating kept/reduced groups and
// every output element is out[k * T + t] = reduce over r, j of in[kept[k] + red[r] + j + t], where
// either the innermost group is reduced (T = 1, j runs along it: contiguous row reductions) or it is
// kept (j = 0, t runs along it: contiguous rows accumulated elementwise). Both split over the
// outputs, so threads never write the same element.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/ops/reduce.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"

namespace metalnn::cpu {

namespace {

constexpr int64_t kReduceGrain = 1 << 15;  // input elements per task

// Each element passes through map() before combine(); SumExp maps x to e^(x - shift), the row's max.
struct Sum {
  template <class T> static T init() { return T(0); }
  template <class T> static T combine(T a, T b) { return a + b; }
};
struct Prod {
  template <class T> static T init() { return T(1); }
  template <class T> static T combine(T a, T b) { return a * b; }
};
struct SumSquare : Sum {
  template <class T> static T map(T x, T) { return x * x; }
};
struct SumExp : Sum {
  template <class T> static T map(T x, T shift) { return std::exp(x - shift); }
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

template <class Op, class T>
T map(T x, T shift) {
  if constexpr (std::is_same_v<Op, SumSquare> || std::is_same_v<Op, SumExp>) return Op::map(x, shift);
  else return x;
}

// Four independent accumulators: shorter dependency chains and better float sums than one.
template <class Op, class T>
T reduce_run(const T* x, int64_t n, T shift) {
  T a0 = Op::template init<T>(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a0 = Op::combine(a0, map<Op>(x[i], shift));
    a1 = Op::combine(a1, map<Op>(x[i + 1], shift));
    a2 = Op::combine(a2, map<Op>(x[i + 2], shift));
    a3 = Op::combine(a3, map<Op>(x[i + 3], shift));
  }
  for (; i < n; ++i) a0 = Op::combine(a0, map<Op>(x[i], shift));
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
      else if constexpr (std::is_same_v<T, bool>) return;  // the schema allows bool for Max/Min only
      else if (op_ == "ReduceProd") reduce<Prod>(x, y, pool);
      else if constexpr (std::is_floating_point_v<T>) {  // L2 and LogSumExp are float only
        if (op_ == "ReduceL2") return reduce<SumSquare>(x, y, pool);
        if (op_ == "ReduceLogSumExp") {
          // log(sum(e^(x - max))) + max: the max first, then the shifted sums read it from y.
          reduce<Max>(x, y, pool);
          return reduce<SumExp>(x, y, pool);
        }
        reduce<Sum>(x, y, pool);
      } else {
        reduce<Sum>(x, y, pool);
      }
    });
  }

 private:
  // y holds each output's shift on entry for SumExp.
  template <class Op, class T>
  void reduce(const T* x, T* y, ThreadPool& pool) const {
    const bool mean = op_ == "ReduceMean";
    auto finish = [&](T v, T shift) -> T {
      if constexpr (std::is_same_v<Op, SumSquare>) return std::sqrt(v);
      if constexpr (std::is_same_v<Op, SumExp>) return std::log(v) + shift;
      if (!mean) return v;
      if constexpr (std::is_integral_v<T>) return count_ == 0 ? T(0) : static_cast<T>(v / count_);
      else return v / static_cast<T>(count_);
    };
    // An infinite or empty max would make x - shift NaN; such rows sum unshifted.
    auto shift_of = [](const T* m) -> T {
      if constexpr (std::is_same_v<Op, SumExp>) return std::isfinite(*m) ? *m : T(0);
      else return T(0);
    };
    const int64_t work_per_output = std::max<int64_t>(1, static_cast<int64_t>(reduced_.size()) * run_);
    const int64_t grain = std::max<int64_t>(1, kReduceGrain / work_per_output);
    const int64_t outputs = static_cast<int64_t>(kept_.size()) * row_;
    pool.parallel_for(outputs, grain, [&](int64_t b, int64_t e) {
      if (row_ == 1) {
        for (int64_t k = b; k < e; ++k) {
          const T shift = shift_of(y + k);
          T acc = Op::template init<T>();
          for (int64_t r : reduced_) acc = Op::combine(acc, reduce_run<Op>(x + kept_[k] + r, run_, shift));
          y[k] = finish(acc, shift);
        }
        return;
      }
      // Output range [b, e) cut into pieces of rows: [t0, t1) of row k.
      for (int64_t k = b / row_; k * row_ < e; ++k) {
        const int64_t t0 = std::max(b - k * row_, int64_t{0}), t1 = std::min(e - k * row_, row_);
        T* out = y + k * row_;
        std::vector<T> shift(static_cast<size_t>(t1 - t0));
        for (int64_t t = t0; t < t1; ++t) shift[t - t0] = shift_of(out + t);
        std::fill(out + t0, out + t1, Op::template init<T>());
        for (int64_t r : reduced_) {
          const T* src = x + kept_[k] + r;
          for (int64_t t = t0; t < t1; ++t) out[t] = Op::combine(out[t], map<Op, T>(src[t], shift[t - t0]));
        }
        for (int64_t t = t0; t < t1; ++t) out[t] = finish(out[t], shift[t - t0]);
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
