// LayerNormalization kernel, float32: one row per position of the leading dims, normalised over the
// trailing dims in two vectorised passes (mean, then variance of the centred values; cpu/vector_math.h).
// Scale and B are expanded to one row per run, since they may be run-time inputs of any broadcastable shape.
#include <cmath>
#include <vector>

#include "core/ops/axis.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"
#include "cpu/strided_copy.h"
#include "cpu/vector_math.h"

namespace metalnn::cpu {

namespace {

class LayerNormKernel : public Kernel {
 public:
  LayerNormKernel(const Graph& g, const Node& n) : epsilon_(n.attrs.get_float("epsilon", 1e-5f)) {
    const Shape& x = input_value(g, n, 0).shape;
    const int rank = static_cast<int>(x.size());
    const int64_t axis = node_axis(n, rank, -1);
    const Shape row(x.begin() + axis, x.end());
    rows_ = split_from_axis(x, axis).outer;
    width_ = shape_numel(row);
    for (int i = 1; i <= 2; ++i)
      if (has_input(n, i))
        expand_[i - 1] = std::make_unique<StridedCopy>(sizeof(float), row, shape_strides(row),
                                                       broadcast_strides(input_value(g, n, i).shape, row));
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    std::vector<float> scale(width_), bias(width_, 0.f);
    expand_[0]->run(scale.data(), in[1]->raw(), pool);
    if (expand_[1]) expand_[1]->run(bias.data(), in[2]->raw(), pool);
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    float* mean_out = out.size() > 1 && out[1] ? out[1]->data<float>() : nullptr;
    float* inv_out = out.size() > 2 && out[2] ? out[2]->data<float>() : nullptr;
    pool.parallel_for(rows_, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, width_)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const float* xr = x + r * width_;
        float* yr = y + r * width_;
        const float mean = static_cast<float>(sum_of(xr, width_) / width_);
        const float inv = 1.f / std::sqrt(static_cast<float>(centered_square_sum(xr, width_, mean) / width_) + epsilon_);
        normalize(xr, yr, width_, mean, inv, scale.data(), bias.data());
        if (mean_out) mean_out[r] = mean;
        if (inv_out) inv_out[r] = inv;
      }
    });
  }

 private:
  float epsilon_;
  int64_t rows_ = 1, width_ = 1;
  std::unique_ptr<StridedCopy> expand_[2];
};

}  // namespace

std::unique_ptr<Kernel> make_layer_norm_kernel(const Graph& g, const Node& n) {
  return std::make_unique<LayerNormKernel>(g, n);
}

}  // namespace metalnn::cpu
