// ConstantOfShape kernel: repeats the `value` attribute's one element (float32 0 by default).
#include <algorithm>
#include <cstring>

#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"

namespace metalnn::cpu {

namespace {

void constant_of_shape(const Node& n, const std::vector<const Tensor*>&, const std::vector<Tensor*>& out,
                       ThreadPool&) {
  const Attribute* value = n.attrs.find("value");
  if (!value) {
    std::memset(out[0]->raw(), 0, out[0]->nbytes());
    return;
  }
  visit_element_size(dtype_size(out[0]->dtype()), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T v;
    std::memcpy(&v, value->t.raw(), sizeof(T));
    std::fill(out[0]->data<T>(), out[0]->data<T>() + out[0]->numel(), v);
  });
}

}  // namespace

std::unique_ptr<Kernel> make_constant_of_shape_kernel(const Graph& g, const Node& n) {
  return stateless_kernel<constant_of_shape>(g, n);
}

}  // namespace metalnn::cpu
