// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool: shape inference (ceil_mode, auto_pad),
// errors, and the CPU kernels against a per-tap reference.
#include "one_node.h"

namespace metalnn::test {
namespace {

struct PoolCase {
  const char* what;
  bool max;
  int64_t n, c, h, w, kh, kw;
  int64_t stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
  int64_t pad_t = 0, pad_l = 0, pad_b = 0, pad_r = 0;
  bool ceil_mode = false, count_include_pad = false;
  std::string auto_pad = "NOTSET";
};

int64_t pooled_size(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe, bool ceil_mode) {
  const int64_t span = in + pb + pe - (k - 1) * d - 1;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + pb) --out;  // the last window must start inside input or left pad
  return out;
}

Tensor reference_pool(const Tensor& x, const PoolCase& p) {
  const int64_t oh = pooled_size(p.h, p.kh, p.stride_h, p.dil_h, p.pad_t, p.pad_b, p.ceil_mode);
  const int64_t ow = pooled_size(p.w, p.kw, p.stride_w, p.dil_w, p.pad_l, p.pad_r, p.ceil_mode);
  Tensor y = Tensor::empty(DType::Float32, {p.n, p.c, oh, ow});
  for (int64_t plane = 0; plane < p.n * p.c; ++plane)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        float best = -INFINITY;
        double sum = 0;
        int64_t inside = 0, padded = 0;
        for (int64_t u = 0; u < p.kh; ++u)
          for (int64_t v = 0; v < p.kw; ++v) {
            const int64_t ih = i * p.stride_h - p.pad_t + u * p.dil_h, iw = j * p.stride_w - p.pad_l + v * p.dil_w;
            if (ih >= -p.pad_t && ih < p.h + p.pad_b && iw >= -p.pad_l && iw < p.w + p.pad_r) ++padded;
            if (ih < 0 || ih >= p.h || iw < 0 || iw >= p.w) continue;
            const float val = x.data<float>()[(plane * p.h + ih) * p.w + iw];
            best = std::max(best, val);
            sum += val;
            ++inside;
          }
        y.data<float>()[(plane * oh + i) * ow + j] = p.max ? best : float(sum / (p.count_include_pad ? padded : inside));
      }
  return y;
}

void check_pool(PoolCase p) {
  SCOPED_TRACE(p.what);
  Tensor x = random_tensor({p.n, p.c, p.h, p.w}, 7);
  Attributes a = attrs({{"kernel_shape", ints_attr({p.kh, p.kw})},
                        {"strides", ints_attr({p.stride_h, p.stride_w})},
                        {"ceil_mode", int_attr(p.ceil_mode)}});
  if (p.dil_h != 1 || p.dil_w != 1) a.set("dilations", ints_attr({p.dil_h, p.dil_w}));
  if (!p.max) a.set("count_include_pad", int_attr(p.count_include_pad));
  if (p.auto_pad == "NOTSET") {
    a.set("pads", ints_attr({p.pad_t, p.pad_l, p.pad_b, p.pad_r}));
  } else {
    a.set("auto_pad", string_attr(p.auto_pad));
    auto same = [&](int64_t in, int64_t k, int64_t s, int64_t& b, int64_t& e) {
      const int64_t total = std::max<int64_t>(0, ((in + s - 1) / s - 1) * s + k - in);
      b = p.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      e = total - b;
    };
    same(p.h, p.kh, p.stride_h, p.pad_t, p.pad_b);
    same(p.w, p.kw, p.stride_w, p.pad_l, p.pad_r);
  }
  Tensor y = OneNode(p.max ? "MaxPool" : "AveragePool", {input(x)}, a).run();
  expect_near(y, reference_pool(x, p), 1e-5f);
}

TEST(PoolKernel, MaxPool) {
  check_pool({"3x3 s2 p1, batch 2", true, 2, 3, 13, 13, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1});
  check_pool({"2x2 s2 on odd size", true, 2, 3, 7, 13, 2, 2, 2, 2});
  check_pool({"ceil_mode with overhang", true, 1, 2, 14, 13, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, true});
  check_pool({"ceil_mode drops a window starting in the pad", true, 1, 2, 7, 7, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, true});
  check_pool({"dilation 2, asymmetric pads", true, 2, 2, 13, 11, 3, 2, 1, 2, 2, 3, 2, 0, 1, 3});
  check_pool({"SAME_UPPER", true, 1, 3, 13, 8, 4, 3, 2, 3, 1, 1, 0, 0, 0, 0, false, false, "SAME_UPPER"});
  check_pool({"3x3 s2 ceil_mode, wide odd plane", true, 2, 5, 29, 111, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, true});
  check_pool({"dilation 3 across, pads only right", true, 1, 3, 9, 17, 2, 3, 1, 2, 1, 3, 0, 0, 1, 4});
}

TEST(PoolKernel, AveragePool) {
  for (bool include : {false, true}) {
    check_pool({"3x3 s1 p1", false, 2, 3, 7, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false, include});
    check_pool({"asymmetric pads, ceil_mode", false, 2, 2, 13, 14, 3, 3, 2, 2, 1, 1, 0, 2, 1, 1, true, include});
    check_pool({"ceil overhang not counted", false, 1, 2, 14, 14, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, true, include});
    check_pool({"SAME_LOWER", false, 1, 3, 13, 8, 2, 3, 2, 2, 1, 1, 0, 0, 0, 0, false, include, "SAME_LOWER"});
    check_pool({"SAME_UPPER", false, 1, 3, 13, 8, 2, 3, 2, 2, 1, 1, 0, 0, 0, 0, false, include, "SAME_UPPER"});
  }
}

TEST(PoolKernel, OneDimensional) {
  Tensor x = random_tensor({2, 3, 13}, 8);
  Tensor y = OneNode("AveragePool", {input(x)},
                     attrs({{"kernel_shape", ints_attr({3})}, {"strides", ints_attr({2})}, {"pads", ints_attr({1, 1})}}))
                 .run();
  PoolCase p{"1-D", false, 2, 3, 1, 13, 1, 3, 1, 2, 1, 1, 0, 1, 0, 1};
  EXPECT_EQ(shape_str(y.shape()), "[2, 3, 7]");
  expect_near(y.reshaped({2, 3, 1, 7}), reference_pool(x.reshaped({2, 3, 1, 13}), p));
}

TEST(PoolKernel, GlobalPools) {
  for (Shape s : {Shape{2, 3, 7, 13}, Shape{2, 5, 13}, Shape{1, 3, 1, 1}}) {
    Tensor x = random_tensor(s, 9);
    Tensor avg = OneNode("GlobalAveragePool", {input(x)}).run();
    Tensor mx = OneNode("GlobalMaxPool", {input(x)}).run();
    Shape expected = s;
    std::fill(expected.begin() + 2, expected.end(), 1);
    ASSERT_EQ(avg.shape(), expected);
    ASSERT_EQ(mx.shape(), expected);
    const int64_t planes = s[0] * s[1], size = x.numel() / planes;
    for (int64_t p = 0; p < planes; ++p) {
      const float* v = x.data<float>() + p * size;
      double sum = 0;
      for (int64_t i = 0; i < size; ++i) sum += v[i];
      EXPECT_NEAR(avg.data<float>()[p], sum / size, 1e-5);
      EXPECT_EQ(mx.data<float>()[p], *std::max_element(v, v + size));
    }
  }
}

TEST(PoolSchema, ShapesAndErrors) {
  auto pool = [](const char* op, Shape x, Attributes a, int outputs = 1) {
    return OneNode(op, {input(Tensor::empty(DType::Float32, x))}, std::move(a), outputs);
  };
  EXPECT_EQ(shape_str(pool("MaxPool", {1, 64, 112, 112},
                           attrs({{"kernel_shape", ints_attr({3, 3})}, {"strides", ints_attr({2, 2})}, {"pads", ints_attr({1, 1, 1, 1})}}))
                          .output_shape()),
            "[1, 64, 56, 56]");
  EXPECT_EQ(shape_str(pool("MaxPool", {1, 96, 111, 111},
                           attrs({{"kernel_shape", ints_attr({3, 3})}, {"strides", ints_attr({2, 2})}, {"ceil_mode", int_attr(1)}}))
                          .output_shape()),
            "[1, 96, 55, 55]");
  EXPECT_EQ(shape_str(pool("AveragePool", {1, 2, 14, 14},
                           attrs({{"kernel_shape", ints_attr({3, 3})}, {"strides", ints_attr({2, 2})}, {"ceil_mode", int_attr(1)}}))
                          .output_shape()),
            "[1, 2, 7, 7]");
  EXPECT_EQ(shape_str(pool("AveragePool", {1, 2, 14, 14},
                           attrs({{"kernel_shape", ints_attr({3, 3})}, {"strides", ints_attr({2, 2})}}))
                          .output_shape()),
            "[1, 2, 6, 6]");

  Attributes k3 = attrs({{"kernel_shape", ints_attr({3, 3})}});
  expect_error<UnsupportedOpError>([&] { pool("MaxPool", {1, 2, 8, 8}, k3, 2).infer(); },
                                   "MaxPool 'n0': the optional Indices output of MaxPool is not supported", true);
  expect_error<ModelError>([&] { pool("AveragePool", {1, 2, 8, 8}, {}).infer(); },
                           "AveragePool 'n0': attribute kernel_shape is required", true);
  expect_error<ShapeError>(
      [&] { pool("MaxPool", {1, 2, 8, 8}, attrs({{"kernel_shape", ints_attr({2, 2})}, {"pads", ints_attr({2, 0, 0, 0})}})).infer(); },
      "must be smaller than the window");
  expect_error<ShapeError>([&] { pool("MaxPool", {1, 2, 2, 8}, k3).infer(); }, "larger than spatial dim 0");
  expect_error<ModelError>([&] { pool("MaxPool", {1, 2, 8, 8}, attrs({{"kernel_shape", ints_attr({3})}})).infer(); },
                           "kernel_shape has 1 values, expected 2");
  expect_error<UnsupportedOpError>([&] { pool("MaxPool", {1, 2, 8, 8, 8}, attrs({{"kernel_shape", ints_attr({3, 3, 3})}})).infer(); },
                                   "3-D pooling is not supported");
  expect_error<ShapeError>([&] { pool("MaxPool", {2, 8}, k3).infer(); }, "has 2 dims, expected 3 or 4");
  expect_error<ShapeError>([&] { pool("GlobalAveragePool", {2, 8}, {}).infer(); }, "expected at least 3");
}

}  // namespace
}  // namespace metalnn::test
