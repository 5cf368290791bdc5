// BatchNormalization (inference: y = x * scale' + shift' per channel, folded once when the statistics
// are constants) and LRN across channels, on the CPU, float32, channel dim 1.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/kernel.h"

namespace metalnn::cpu {

namespace {

class BatchNormKernel : public Kernel {
 public:
  BatchNormKernel(const Graph& g, const Node& n) : epsilon_(n.attrs.get_float("epsilon", 1e-5f)) {
    std::vector<const Tensor*> params;
    for (int i = 1; i < 5; ++i) {
      const Value& v = g.value(n.inputs[i]);
      params.push_back(v.is_constant() ? &v.constant : nullptr);
    }
    folded_ = std::all_of(params.begin(), params.end(), [](const Tensor* t) { return t != nullptr; });
    if (folded_) fold(params);
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    if (!folded_) fold({in[1], in[2], in[3], in[4]});
    const Tensor& x = *in[0];
    const int64_t channels = x.dim(1), planes = x.dim(0) * channels;
    const int64_t size = planes ? x.numel() / planes : 0;
    const float* src = x.data<float>();
    float* dst = out[0]->data<float>();
    pool.parallel_for(planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, size)), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const float a = scale_[p % channels], b = shift_[p % channels];
        const float* s = src + p * size;
        float* d = dst + p * size;
        for (int64_t i = 0; i < size; ++i) d[i] = s[i] * a + b;
      }
    });
  }

 private:
  // scale' = scale / sqrt(var + eps), shift' = B - mean * scale'.
  void fold(const std::vector<const Tensor*>& p) {
    const int64_t c = p[0]->numel();
    scale_.resize(static_cast<size_t>(c));
    shift_.resize(static_cast<size_t>(c));
    for (int64_t i = 0; i < c; ++i) {
      scale_[i] = p[0]->data<float>()[i] / std::sqrt(p[3]->data<float>()[i] + epsilon_);
      shift_[i] = p[1]->data<float>()[i] - p[2]->data<float>()[i] * scale_[i];
    }
  }

  float epsilon_;
  bool folded_ = false;
  std::vector<float> scale_, shift_;
};

// y = x / (bias + alpha / size * sum of x^2 over channels [c - (size-1)/2, c + size/2]) ^ beta
class LrnKernel : public Kernel {
 public:
  explicit LrnKernel(const Node& n)
      : size_(n.attrs.get_int("size", 1)),
        alpha_(n.attrs.get_float("alpha", 1e-4f)),
        beta_(n.attrs.get_float("beta", 0.75f)),
        bias_(n.attrs.get_float("bias", 1.f)) {}

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const Tensor& x = *in[0];
    const int64_t batch = x.dim(0), channels = x.dim(1);
    const int64_t size = batch * channels > 0 ? x.numel() / (batch * channels) : 0;
    constexpr int64_t kChunk = 256;  // spatial positions per task; their squares stay in L1
    const int64_t chunks = (size + kChunk - 1) / kChunk;
    const float scale = alpha_ / static_cast<float>(size_);
    const int64_t before = (size_ - 1) / 2, after = size_ - 1 - before;
    pool.parallel_for(batch * chunks, 1, [&](int64_t t0, int64_t t1) {
      std::vector<float> sum(kChunk);
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t b = t / chunks, s0 = (t % chunks) * kChunk, len = std::min(kChunk, size - s0);
        const float* src = x.data<float>() + b * channels * size + s0;
        float* dst = out[0]->data<float>() + b * channels * size + s0;
        for (int64_t c = 0; c < channels; ++c) {
          std::fill(sum.begin(), sum.begin() + len, 0.f);
          for (int64_t j = std::max<int64_t>(0, c - before); j <= std::min(channels - 1, c + after); ++j)
            for (int64_t i = 0; i < len; ++i) sum[i] += src[j * size + i] * src[j * size + i];
          for (int64_t i = 0; i < len; ++i)
            dst[c * size + i] = src[c * size + i] * std::pow(bias_ + scale * sum[i], -beta_);
        }
      }
    });
  }

 private:
  int64_t size_;
  float alpha_, beta_, bias_;
};

}  // namespace

std::unique_ptr<Kernel> make_batch_norm_kernel(const Graph& g, const Node& n) {
  return std::make_unique<BatchNormKernel>(g, n);
}
std::unique_ptr<Kernel> make_lrn_kernel(const Graph&, const Node& n) { return std::make_unique<LrnKernel>(n); }

}  // namespace metalnn::cpu
