#include "cpu/activation.h"

#include <algorithm>
#include <cmath>

namespace metalnn::cpu {

void apply_activation(float* x, int64_t n, const Activation& act) { apply_activation(x, x, n, act); }

void apply_activation(const float* in, float* out, int64_t n, const Activation& act) {
  const float a = act.alpha, b = act.beta;
  switch (act.kind) {
    case Activation::Kind::None:
      if (in != out) std::copy(in, in + n, out);
      break;
    case Activation::Kind::Relu:
      for (int64_t i = 0; i < n; ++i) out[i] = in[i] > 0.f ? in[i] : 0.f;
      break;
    case Activation::Kind::LeakyRelu:
      for (int64_t i = 0; i < n; ++i) out[i] = in[i] >= 0.f ? in[i] : in[i] * a;
      break;
    case Activation::Kind::Clip:
      for (int64_t i = 0; i < n; ++i) out[i] = std::min(std::max(in[i], a), b);
      break;
    case Activation::Kind::Sigmoid:
      for (int64_t i = 0; i < n; ++i) out[i] = 1.f / (1.f + std::exp(-in[i]));
      break;
    case Activation::Kind::HardSigmoid:
      for (int64_t i = 0; i < n; ++i) out[i] = std::min(1.f, std::max(0.f, a * in[i] + b));
      break;
    case Activation::Kind::HardSwish:
      for (int64_t i = 0; i < n; ++i) out[i] = in[i] * std::min(1.f, std::max(0.f, in[i] / 6.f + 0.5f));
      break;
    case Activation::Kind::Tanh:
      for (int64_t i = 0; i < n; ++i) out[i] = std::tanh(in[i]);
      break;
  }
}

}  // namespace metalnn::cpu
