// The kernel of Reshape, Flatten, Squeeze, Unsqueeze, Identity and Dropout: the output holds the
// input's bytes unchanged: where the plan made the output a view of the input (core/plan.h
// reshape_views) there is nothing to move, otherwise they are copied. Dropout's optional mask output
// is all true.
#include <cstring>

#include "cpu/kernel.h"

namespace metalnn::cpu {

namespace {

void copy(const Node&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) {
  const char* src = static_cast<const char*>(in[0]->raw());
  char* dst = static_cast<char*>(out[0]->raw());
  if (src != dst) {
    pool.parallel_for(static_cast<int64_t>(out[0]->nbytes()), 1 << 18, [&](int64_t b, int64_t e) {
      std::memcpy(dst + b, src + b, static_cast<size_t>(e - b));
    });
  }
  if (out.size() > 1 && out[1]) std::memset(out[1]->raw(), 1, out[1]->nbytes());
}

}  // namespace

std::unique_ptr<Kernel> make_copy_kernel(const Graph& g, const Node& n) { return stateless_kernel<copy>(g, n); }

}  // namespace metalnn::cpu
