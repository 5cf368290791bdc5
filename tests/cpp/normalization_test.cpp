// BatchNormalization (inference) and LRN: shape inference, errors, and the CPU kernels against the
// ONNX formulas.
#include "one_node.h"

namespace metalnn::test {
namespace {

void check_batch_norm(Shape shape, bool constant_params) {
  SCOPED_TRACE(shape_str(shape) + (constant_params ? " constant" : " run-time") + " statistics");
  const int64_t c = shape[1];
  Tensor x = random_tensor(shape, 1), scale = random_tensor({c}, 2), bias = random_tensor({c}, 3);
  Tensor mean = random_tensor({c}, 4), var = random_tensor({c}, 5, 0.1f, 2.f);
  auto param = [&](const Tensor& t) { return constant_params ? constant(t) : input(t); };
  Tensor y = OneNode("BatchNormalization", {input(x), param(scale), param(bias), param(mean), param(var)},
                     attrs({{"epsilon", float_attr(1e-3f)}}))
                 .run();
  Tensor ref = Tensor::empty(DType::Float32, shape);
  const int64_t inner = x.numel() / (shape[0] * c);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t ch = i / inner % c;
    ref.data<float>()[i] = (x.data<float>()[i] - mean.data<float>()[ch]) / std::sqrt(var.data<float>()[ch] + 1e-3f) *
                               scale.data<float>()[ch] +
                           bias.data<float>()[ch];
  }
  expect_near(y, ref);
}

TEST(BatchNormKernel, AnyRank) {
  check_batch_norm({2, 7, 13, 5}, true);
  check_batch_norm({2, 7, 13, 5}, false);
  check_batch_norm({3, 13}, true);
  check_batch_norm({2, 5, 129}, false);
}

TEST(BatchNormSchema, Errors) {
  auto bn = [](Shape x, Shape p, Attributes a = {}, int outputs = 1) {
    std::vector<Arg> args = {input(Tensor::empty(DType::Float32, x))};
    for (int i = 0; i < 4; ++i) args.push_back(constant(Tensor::empty(DType::Float32, p)));
    return [=] { OneNode("BatchNormalization", args, a, outputs).infer(); };
  };
  expect_error<UnsupportedOpError>(bn({2, 3, 4, 4}, {3}, attrs({{"training_mode", int_attr(1)}})),
                                   "BatchNormalization 'n0': training_mode=1 is not supported", false);
  expect_error<UnsupportedOpError>(bn({2, 3, 4, 4}, {3}, {}, 3), "output 1 (training statistics) is not supported");
  expect_error<ShapeError>(bn({2, 3, 4, 4}, {4}), "scale 'in1' has shape [4], expected [3]");
  expect_error<ShapeError>(bn({3}, {3}), "has 1 dims, expected at least 2");
  expect_error<ModelError>([] { OneNode("BatchNormalization", {input(random_tensor({2, 3}, 1))}).infer(); },
                           "has 1 inputs, expected 5");
}

TEST(LrnKernel, AcrossChannels) {
  for (int64_t size : {5, 2, 1, 9}) {
    SCOPED_TRACE("size " + std::to_string(size));
    Tensor x = random_tensor({2, 7, 5, 3}, 6, -2.f, 2.f);
    const float alpha = 0.02f, beta = 0.75f, bias = 2.f;
    Tensor y = OneNode("LRN", {input(x)},
                       attrs({{"size", int_attr(size)}, {"alpha", float_attr(alpha)}, {"beta", float_attr(beta)},
                              {"bias", float_attr(bias)}}))
                   .run();
    Tensor ref = Tensor::empty(DType::Float32, x.shape());
    const int64_t c = 7, inner = 15;
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int64_t ch = i / inner % c, base = i - ch * inner;
      double sq = 0;
      for (int64_t j = ch - (size - 1) / 2; j <= ch + size / 2; ++j)
        if (j >= 0 && j < c) sq += double(x.data<float>()[base + j * inner]) * x.data<float>()[base + j * inner];
      ref.data<float>()[i] = float(x.data<float>()[i] / std::pow(bias + alpha / size * sq, beta));
    }
    expect_near(y, ref);
  }
}

TEST(LrnSchema, Errors) {
  expect_error<ModelError>([] { OneNode("LRN", {input(random_tensor({1, 4, 2, 2}, 1))}).infer(); },
                           "LRN 'n0': attribute size is required", true);
  expect_error<ModelError>(
      [] { OneNode("LRN", {input(random_tensor({1, 4, 2, 2}, 1))}, attrs({{"size", int_attr(0)}})).infer(); },
      "size 0 must be >= 1");
}

}  // namespace
}  // namespace metalnn::test
