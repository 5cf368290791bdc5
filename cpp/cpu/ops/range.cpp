// Range kernel: out[i] = start + i * delta, in the inputs' dtype.
#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"

namespace metalnn::cpu {

namespace {

void range(const Node&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool&) {
  visit_numeric_dtype(out[0]->dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T start = in[0]->data<T>()[0], delta = in[2]->data<T>()[0];
    T* y = out[0]->data<T>();
    for (int64_t i = 0; i < out[0]->numel(); ++i) y[i] = static_cast<T>(start + static_cast<T>(i) * delta);
  });
}

}  // namespace

std::unique_ptr<Kernel> make_range_kernel(const Graph& g, const Node& n) { return stateless_kernel<range>(g, n); }

}  // namespace metalnn::cpu
