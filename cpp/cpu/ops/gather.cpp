// Gather kernel: data viewed as [outer, axis, inner]; each (outer, index) pair copies one inner block.
// Indices are checked before any copying, so a bad one raises instead of reading out of bounds.
#include <algorithm>
#include <cstring>

#include "core/ops/axis.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"

namespace metalnn::cpu {

namespace {

class GatherKernel : public Kernel {
 public:
  GatherKernel(const Graph& g, const Node& n) : label_(n.label()) {
    const Value& data = input_value(g, n, 0);
    const int rank = static_cast<int>(data.shape.size());
    axis_ = static_cast<int>(n.attrs.get_int("axis", 0));
    if (axis_ < 0) axis_ += rank;
    const AxisSplit split = split_at_axis(data.shape, axis_);
    outer_ = split.outer, axis_size_ = split.axis, inner_ = split.inner;
    block_bytes_ = static_cast<size_t>(inner_) * dtype_size(data.dtype);
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const Tensor& indices = *in[1];
    const int64_t count = indices.numel();
    std::vector<int64_t> idx(static_cast<size_t>(count));
    for (int64_t j = 0; j < count; ++j) {
      int64_t v = indices.int_at(j);
      if (v < -axis_size_ || v >= axis_size_)
        throw ShapeError(label_ + ": index " + std::to_string(v) + " is out of range for axis " + std::to_string(axis_) +
                         " of " + shape_str(in[0]->shape()));
      idx[j] = v < 0 ? v + axis_size_ : v;
    }
    const char* src = static_cast<const char*>(in[0]->raw());
    char* dst = static_cast<char*>(out[0]->raw());
    const int64_t grain = std::max<int64_t>(1, (1 << 16) / std::max<size_t>(1, block_bytes_));
    pool.parallel_for(outer_ * count, grain, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t o = t / count, j = t % count;
        std::memcpy(dst + t * block_bytes_, src + (o * axis_size_ + idx[j]) * block_bytes_, block_bytes_);
      }
    });
  }

 private:
  std::string label_;
  int axis_ = 0;
  int64_t outer_ = 1, inner_ = 1, axis_size_ = 0;
  size_t block_bytes_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_gather_kernel(const Graph& g, const Node& n) { return std::make_unique<GatherKernel>(g, n); }

}  // namespace metalnn::cpu
