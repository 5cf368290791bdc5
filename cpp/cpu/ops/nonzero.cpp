// NonZero kernel: one sequential pass writes the coordinates of each nonzero element in row-major
// order, then pads the columns past the count with -1 (the output is planned at its upper bound).
#include <algorithm>

#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"

namespace metalnn::cpu {

namespace {

void nonzero(const Node&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool&) {
  const Tensor& x = *in[0];
  const int64_t numel = x.numel();
  int64_t* o = out[0]->data<int64_t>();
  const Shape dims = x.rank() == 0 ? Shape{1} : x.shape();
  const int rank = static_cast<int>(dims.size());
  int64_t count = 0;
  visit_any_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = x.data<T>();
    for (int64_t i = 0; i < numel; ++i) {
      if (!(p[i] != T(0))) continue;
      for (int64_t d = rank - 1, rest = i; d >= 0; --d) {
        o[d * numel + count] = rest % dims[d];
        rest /= dims[d];
      }
      ++count;
    }
  });
  for (int d = 0; d < rank; ++d) std::fill(o + d * numel + count, o + (d + 1) * numel, int64_t{-1});
}

}  // namespace

std::unique_ptr<Kernel> make_nonzero_kernel(const Graph& g, const Node& n) { return stateless_kernel<nonzero>(g, n); }

}  // namespace metalnn::cpu
