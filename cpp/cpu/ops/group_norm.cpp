// InstanceNormalization / GroupNormalization kernel, float32: the rows of core/ops/group_norm.h, each
// normalised in two passes (mean, then variance of the centred values) and scaled per channel or
// per group.
#include <cmath>

#include "core/ops/group_norm.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"

namespace metalnn::cpu {

namespace {

class GroupNormKernel : public Kernel {
 public:
  GroupNormKernel(const Graph& g, const Node& n) : view_(group_norm_view(n, input_value(g, n, 0).shape)) {}

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const float* x = in[0]->data<float>();
    const float* scale = in[1]->data<float>();
    const float* bias = in[2]->data<float>();
    float* y = out[0]->data<float>();
    const GroupNormView v = view_;
    if (v.rows == 0 || v.width == 0) return;
    pool.parallel_for(v.rows, std::max<int64_t>(1, 8192 / v.width), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const float* xr = x + r * v.width;
        float* yr = y + r * v.width;
        double sum = 0;
        for (int64_t i = 0; i < v.width; ++i) sum += xr[i];
        const float mean = static_cast<float>(sum / v.width);
        double sq = 0;
        for (int64_t i = 0; i < v.width; ++i) sq += double(xr[i] - mean) * (xr[i] - mean);
        const float inv = 1.f / std::sqrt(static_cast<float>(sq / v.width) + v.epsilon);
        const int64_t first = (r % v.groups) * v.width;
        // Runs of `span` elements share one scale and bias entry.
        for (int64_t i = 0; i < v.width; i += v.span) {
          const int64_t p = (first + i) / v.span;
          const float g = scale[p] * inv, c = bias[p] - mean * g;
          for (int64_t j = i; j < i + v.span; ++j) yr[j] = xr[j] * g + c;
        }
      }
    });
  }

 private:
  GroupNormView view_;
};

}  // namespace

std::unique_ptr<Kernel> make_group_norm_kernel(const Graph& g, const Node& n) {
  return std::make_unique<GroupNormKernel>(g, n);
}

}  // namespace metalnn::cpu
