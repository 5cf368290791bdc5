// BatchNormalization as a per-channel affine map with scale and shift folded at load (or built per
// element when its parameters are fed at run time), and LRN
// (metal/normalization.metal).
#include <algorithm>
#include <cmath>

#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_batch_norm(Lowering& L, const Node& n) {
  const int x = n.inputs[0], y = n.outputs[0];
  const Shape& s = L.shape(x);
  std::vector<const Tensor*> params;
  for (int i = 1; i <= 4; ++i) params.push_back(L.constant_input(n, i));
  const int64_t channels = s.size() > 1 ? s[1] : 1;
  const float epsilon = n.attrs.get_float("epsilon", 1e-5f);
  const uint32_t inner = u32(n, s.size() > 2 ? shape_numel(Shape(s.begin() + 2, s.end())) : 1);
  if (std::find(params.begin(), params.end(), nullptr) != params.end()) {  // some fed at run time
    BatchNormParams p{};
    p.count = u32(n, shape_numel(s));
    p.channels = u32(n, channels);
    p.inner = inner;
    p.epsilon = epsilon;
    Dispatch& d = L.dispatch(kernel_name("batch_norm", "fed", L.suffix(x))).input(0, x);
    for (uint32_t i = 1; i <= 4; ++i) d.input(i, n.inputs[i]);
    d.output(5, y).params(6, p).threads_1d(p.count);
    return;
  }
  std::vector<float> scale(static_cast<size_t>(channels)), shift(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    const double gamma = params[0]->float_at(c), beta = params[1]->float_at(c);
    const double mean = params[2]->float_at(c), var = params[3]->float_at(c);
    const double a = gamma / std::sqrt(var + double(epsilon));
    scale[size_t(c)] = float(a);
    shift[size_t(c)] = float(beta - mean * a);
  }
  AffineParams p{};
  p.count = u32(n, shape_numel(s));
  p.channels = u32(n, channels);
  p.inner = inner;
  L.dispatch(kernel_name("channel", "affine", L.suffix(x)))
      .input(0, x).buffer(1, L.upload_floats(scale)).buffer(2, L.upload_floats(shift)).output(3, y).params(4, p)
      .threads_1d(p.count);
}

void lower_lrn(Lowering& L, const Node& n) {
  const int x = n.inputs[0], y = n.outputs[0];
  const Shape& s = L.shape(x);
  LrnParams p{};
  p.count = u32(n, shape_numel(s));
  p.channels = u32(n, s[1]);
  p.inner = u32(n, shape_numel(Shape(s.begin() + 2, s.end())));
  p.size = u32(n, n.attrs.get_int("size", 1));
  p.alpha = n.attrs.get_float("alpha", 1e-4f);
  p.beta = n.attrs.get_float("beta", 0.75f);
  p.bias = n.attrs.get_float("bias", 1.0f);
  L.dispatch(kernel_name("lrn", "across", L.suffix(x))).input(0, x).output(1, y).params(2, p).threads_1d(p.count);
}

}  // namespace metalnn::gpu
