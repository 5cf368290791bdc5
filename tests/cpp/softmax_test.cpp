// Softmax / LogSoftmax: opset-13 single-axis semantics on any axis, the `_coerce_2d` (opset < 13)
// flattening, and errors.
#include "one_node.h"

namespace metalnn::test {
namespace {

// Softmax of x viewed as [outer, axis, inner] along the middle dim.
Tensor reference_softmax(const Tensor& x, int64_t outer, int64_t axis, int64_t inner, bool log) {
  Tensor y = Tensor::empty(DType::Float32, x.shape());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const float* src = x.data<float>() + o * axis * inner + i;
      double mx = -INFINITY, sum = 0;
      for (int64_t a = 0; a < axis; ++a) mx = std::max<double>(mx, src[a * inner]);
      for (int64_t a = 0; a < axis; ++a) sum += std::exp(src[a * inner] - mx);
      for (int64_t a = 0; a < axis; ++a)
        y.data<float>()[o * axis * inner + a * inner + i] =
            float(log ? src[a * inner] - mx - std::log(sum) : std::exp(src[a * inner] - mx) / sum);
    }
  return y;
}

void check_softmax(const char* op, Shape shape, Attributes a, int64_t outer, int64_t axis, int64_t inner) {
  SCOPED_TRACE(std::string(op) + " " + shape_str(shape));
  Tensor x = random_tensor(shape, 3, -5.f, 5.f);
  Tensor y = OneNode(op, {input(x)}, a).run();
  expect_near(y, reference_softmax(x, outer, axis, inner, std::string(op) == "LogSoftmax"), 1e-5f);
}

TEST(SoftmaxKernel, Axes) {
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    check_softmax(op, {2, 1000}, {}, 2, 1000, 1);
    check_softmax(op, {2, 3, 7, 13}, {}, 42, 13, 1);
    check_softmax(op, {2, 3, 7, 13}, attrs({{"axis", int_attr(1)}}), 2, 3, 91);
    check_softmax(op, {2, 3, 7, 130}, attrs({{"axis", int_attr(-2)}}), 6, 7, 130);
    check_softmax(op, {2, 300, 129}, attrs({{"axis", int_attr(0)}}), 1, 2, 300 * 129);
    check_softmax(op, {7}, {}, 1, 7, 1);
  }
}

TEST(SoftmaxKernel, Coerce2dFlattensAtAxis) {
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    check_softmax(op, {2, 3, 7}, attrs({{"_coerce_2d", int_attr(1)}}), 2, 21, 1);  // default axis 1
    check_softmax(op, {2, 3, 7}, attrs({{"_coerce_2d", int_attr(1)}, {"axis", int_attr(2)}}), 6, 7, 1);
    check_softmax(op, {2, 3, 7}, attrs({{"_coerce_2d", int_attr(1)}, {"axis", int_attr(0)}}), 1, 42, 1);
  }
}

TEST(SoftmaxSchema, Errors) {
  expect_error<ModelError>(
      [] { OneNode("Softmax", {input(random_tensor({2, 3}, 1))}, attrs({{"axis", int_attr(2)}})).infer(); },
      "Softmax 'n0': axis 2 is out of range for rank 2", true);
  expect_error<ShapeError>([] { OneNode("LogSoftmax", {input(random_tensor({}, 1))}).infer(); }, "is a scalar");
  expect_error<DtypeError>([] { OneNode("Softmax", {input(Tensor::empty(DType::Int32, {2, 3}))}).infer(); },
                           "expected float32");
}

}  // namespace
}  // namespace metalnn::test
