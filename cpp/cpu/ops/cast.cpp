// Cast kernel: converts every element between any two stored dtypes. Float to integer saturates (NaN
// becomes 0) instead of the undefined behaviour of a plain C++ conversion; anything to bool is x != 0.
#include <cmath>
#include <limits>
#include <type_traits>

#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"

namespace metalnn::cpu {

namespace {

template <class D, class S>
D convert(S x) {
  if constexpr (std::is_same_v<D, bool>) {
    return x != S(0);
  } else if constexpr (std::is_integral_v<D> && !std::is_integral_v<S>) {
    const double v = static_cast<double>(x);
    if (std::isnan(v)) return 0;
    // Exact powers of two bound the representable range without rounding surprises.
    const double hi = std::ldexp(1.0, std::numeric_limits<D>::digits);
    const double lo = std::is_signed_v<D> ? -hi : 0.0;
    if (v >= hi) return std::numeric_limits<D>::max();
    if (v <= lo) return std::numeric_limits<D>::min();
    return static_cast<D>(v);
  } else {
    return static_cast<D>(x);
  }
}

void cast(const Node&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) {
  visit_any_dtype(in[0]->dtype(), [&](auto src_tag) {
    using S = typename decltype(src_tag)::type;
    visit_any_dtype(out[0]->dtype(), [&](auto dst_tag) {
      using D = typename decltype(dst_tag)::type;
      const S* x = in[0]->data<S>();
      D* y = out[0]->data<D>();
      pool.parallel_for(in[0]->numel(), 1 << 14, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) y[i] = convert<D>(x[i]);
      });
    });
  });
}

}  // namespace

std::unique_ptr<Kernel> make_cast_kernel(const Graph& g, const Node& n) { return stateless_kernel<cast>(g, n); }

}  // namespace metalnn::cpu
