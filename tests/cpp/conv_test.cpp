// Conv: shape inference and attribute errors, and the CPU kernel's paths (depthwise, 1x1, Winograd,
// im2col + GEMM) against a direct convolution over odd sizes, groups, dilations and paddings.
#include "cpu/packed_gemm.h"
#include "one_node.h"

namespace metalnn::test {
namespace {

struct ConvCase {
  const char* what;
  int64_t n, c, h, w, oc, kh, kw;
  int64_t stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
  int64_t pad_t = 0, pad_l = 0, pad_b = 0, pad_r = 0;
  int64_t group = 1;
  bool bias = true;
  Activation::Kind act = Activation::Kind::None;
  std::string auto_pad = "NOTSET";
  bool constant_weight = true;
};

// Padding auto_pad implies, computed here independently of the engine: SAME keeps ceil(in / stride).
void same_pads(int64_t in, int64_t k, int64_t stride, int64_t dil, bool upper, int64_t& begin, int64_t& end) {
  const int64_t out = (in + stride - 1) / stride;
  const int64_t total = std::max<int64_t>(0, (out - 1) * stride + (k - 1) * dil + 1 - in);
  begin = upper ? total / 2 : (total + 1) / 2;
  end = total - begin;
}

Tensor reference_conv(const Tensor& x, const Tensor& w, const float* bias, const ConvCase& p, const Activation& act) {
  const int64_t oh = (p.h + p.pad_t + p.pad_b - (p.kh - 1) * p.dil_h - 1) / p.stride_h + 1;
  const int64_t ow = (p.w + p.pad_l + p.pad_r - (p.kw - 1) * p.dil_w - 1) / p.stride_w + 1;
  Tensor y = Tensor::empty(DType::Float32, {p.n, p.oc, oh, ow});
  const int64_t icg = p.c / p.group, ocg = p.oc / p.group;
  for (int64_t b = 0; b < p.n; ++b)
    for (int64_t o = 0; o < p.oc; ++o)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double acc = bias ? bias[o] : 0.0;
          const int64_t g = o / ocg;
          for (int64_t ci = 0; ci < icg; ++ci)
            for (int64_t u = 0; u < p.kh; ++u)
              for (int64_t v = 0; v < p.kw; ++v) {
                const int64_t ih = i * p.stride_h - p.pad_t + u * p.dil_h, iw = j * p.stride_w - p.pad_l + v * p.dil_w;
                if (ih < 0 || ih >= p.h || iw < 0 || iw >= p.w) continue;
                acc += double(x.data<float>()[((b * p.c + g * icg + ci) * p.h + ih) * p.w + iw]) *
                       w.data<float>()[((o * icg + ci) * p.kh + u) * p.kw + v];
              }
          y.data<float>()[((b * p.oc + o) * oh + i) * ow + j] = reference_activation(float(acc), act);
        }
  return y;
}

Activation make_activation(Activation::Kind kind) {
  Activation a;
  a.kind = kind;
  if (kind == Activation::Kind::LeakyRelu) a.alpha = 0.1f;
  if (kind == Activation::Kind::Clip) a.alpha = -0.25f, a.beta = 0.5f;
  if (kind == Activation::Kind::HardSigmoid) a.alpha = 0.2f, a.beta = 0.5f;
  return a;
}

void check_conv(ConvCase p) {
  SCOPED_TRACE(p.what);
  Tensor x = random_tensor({p.n, p.c, p.h, p.w}, 1);
  Tensor w = random_tensor({p.oc, p.c / p.group, p.kh, p.kw}, 2);
  Tensor b = random_tensor({p.oc}, 3);
  Attributes a = attrs({{"strides", ints_attr({p.stride_h, p.stride_w})},
                        {"dilations", ints_attr({p.dil_h, p.dil_w})},
                        {"group", int_attr(p.group)}});
  if (p.auto_pad == "NOTSET") {
    a.set("pads", ints_attr({p.pad_t, p.pad_l, p.pad_b, p.pad_r}));
  } else {
    a.set("auto_pad", string_attr(p.auto_pad));
    if (p.auto_pad != "VALID") {
      same_pads(p.h, p.kh, p.stride_h, p.dil_h, p.auto_pad == "SAME_UPPER", p.pad_t, p.pad_b);
      same_pads(p.w, p.kw, p.stride_w, p.dil_w, p.auto_pad == "SAME_UPPER", p.pad_l, p.pad_r);
    }
  }
  OneNode node("Conv", {input(x), p.constant_weight ? constant(w) : input(w), p.bias ? constant(b) : omitted()}, a);
  const Activation act = make_activation(p.act);
  act.store(node.node());
  Tensor y = node.run();
  expect_near(y, reference_conv(x, w, p.bias ? b.data<float>() : nullptr, p, act), 1e-4f);
}

TEST(ConvKernel, Im2colPaths) {
  check_conv({"3x3 pad 1, odd sizes, batch 2", 2, 3, 13, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1});
  check_conv({"asymmetric pads, stride 2, dilation 2, groups 2", 2, 4, 13, 11, 6, 3, 2, 2, 2, 2, 2, 0, 1, 2, 1, 2});
  check_conv({"1x1 stride 2 (downsample)", 2, 6, 13, 7, 4, 1, 1, 2, 2});
  check_conv({"non-square kernel, no bias, stride 3x1", 1, 2, 9, 13, 3, 2, 5, 3, 1, 1, 1, 1, 2, 0, 2, 1, false});
  check_conv({"depthwise with multiplier 2", 2, 4, 7, 13, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4});
  check_conv({"tiled im2col (64 channels, 67x61, dilation 2)", 1, 64, 67, 61, 5, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2});
  check_conv({"tiles over the pool, batch 3, groups 2", 3, 32, 67, 61, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2});
  check_conv({"one small map, GEMM split by rows", 1, 129, 5, 7, 131, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, true,
              Activation::Kind::Relu});
  // Few taps x channels and >= 32 outputs: the direct GEMM on each im2col tile (AVX2) when the weights
  // are not packed (run-time weights here, BLAS in EveryGemmKernel).
  check_conv({"direct im2col, stem-like stride 2", 2, 3, 29, 31, 33, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true,
              Activation::Kind::Clip});
  check_conv({"direct im2col, several tiles", 1, 16, 67, 61, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, false,
              Activation::Kind::Sigmoid});
  check_conv({"direct im2col, run-time weight", 2, 3, 29, 31, 33, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true,
              Activation::Kind::Clip, "NOTSET", false});
  check_conv({"run-time weight", 2, 3, 7, 13, 4, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, true, Activation::Kind::None,
              "NOTSET", false});
}

TEST(ConvKernel, PointwisePath) {
  check_conv({"1x1 with bias and relu, batch 2", 2, 7, 13, 7, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, true,
              Activation::Kind::Relu});
  check_conv({"1x1 grouped", 2, 6, 7, 5, 9, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 3});
  check_conv({"1x1 GEMM split by columns, ragged", 2, 33, 61, 67, 37, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, true,
              Activation::Kind::Relu});
  // Expansion and projection shapes: the direct kernel (AVX2), ragged channel and pixel tiles.
  check_conv({"1x1 direct, clip", 2, 16, 23, 29, 67, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, true, Activation::Kind::Clip});
  check_conv({"1x1 direct, leaky relu, no bias", 1, 32, 5, 3, 64, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, false,
              Activation::Kind::LeakyRelu});
  check_conv({"1x1 direct, several pixel blocks", 3, 3, 40, 31, 96, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, true,
              Activation::Kind::HardSwish});
  check_conv({"1x1 direct projection", 2, 150, 29, 31, 29, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, true,
              Activation::Kind::Relu});
}

TEST(ConvKernel, DepthwisePath) {
  using K = Activation::Kind;
  check_conv({"3x3 s1 wide rows, leftover vector", 2, 8, 13, 37, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8, true, K::Clip});
  check_conv({"3x3 s2 wide rows (two phases)", 2, 8, 29, 41, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 8, true, K::Relu});
  check_conv({"3x3 s2 asymmetric pads", 1, 5, 14, 40, 5, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 5});
  check_conv({"3x3 s2 odd width", 2, 6, 9, 61, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 6, true, K::HardSwish});
  check_conv({"3x3 s2 no left pad", 1, 5, 8, 64, 5, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 5, false});
  check_conv({"3x3 strides 1x2", 1, 4, 7, 60, 4, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1, 4, true, K::Clip});
  check_conv({"3x3 s1 narrow, no pad", 1, 3, 7, 5, 3, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 3, false});
  check_conv({"5x5 s2 dilation 2", 2, 6, 13, 23, 6, 5, 5, 2, 2, 2, 2, 4, 4, 4, 4, 6});
  check_conv({"kernel wider than the unpadded row", 1, 2, 7, 3, 2, 3, 5, 1, 1, 1, 1, 1, 2, 1, 2, 2});
  check_conv({"7x7 on a 7x7 map (one 7-row block)", 2, 5, 7, 7, 5, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 5, true, K::Relu});
  check_conv({"5x5 s3 dilation 3x2 (three phases)", 1, 4, 31, 35, 4, 5, 5, 3, 3, 3, 2, 2, 5, 6, 1, 4});
  check_conv({"4x6 kernel, strides 2x3, dilation 2x1", 2, 3, 17, 50, 3, 4, 6, 2, 3, 2, 1, 3, 0, 1, 4, 3, true,
              K::Sigmoid});
  check_conv({"multiplier 3, 5x5 s2", 2, 3, 15, 21, 9, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, 3, true, K::Clip});
  check_conv({"multiplier 2, 1x1", 1, 4, 5, 9, 8, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 4});
  check_conv({"one output row, 8-vector blocks and leftovers", 1, 3, 1, 150, 3, 1, 7, 1, 1, 1, 1, 0, 3, 0, 3, 3});
}

// 3x3 stride 1 with at least 32 input channels and 8x8 outputs (Winograd on AVX2 machines, im2col
// elsewhere), or 6x6 outputs with AVX-512.
TEST(ConvKernel, WinogradPath) {
  using K = Activation::Kind;
  check_conv({"odd sizes, batch 2, pad 1", 2, 33, 13, 11, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, K::Clip});
  check_conv({"no padding, no bias", 1, 32, 10, 20, 5, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, false});
  check_conv({"asymmetric pads, several row chunks", 1, 40, 70, 9, 9, 3, 3, 1, 1, 1, 1, 2, 0, 1, 2, 1, true,
              K::LeakyRelu});
  check_conv({"8x9 output, batch 3", 3, 32, 10, 9, 4, 3, 3, 1, 1, 1, 1, 0, 1, 0, 1, 1, true, K::HardSwish});
  // 6x6 to 8x8 outputs, and 10x10 to 16x16 of 4 images or more: with AVX-512 an image's 4x4 grid of 2x2
  // or 4x4 blocks per vector (im2col elsewhere below 8x8).
  check_conv({"7x7 output", 1, 64, 7, 7, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1});
  check_conv({"7x7 output, batch 3", 3, 64, 7, 7, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, K::LeakyRelu});
  check_conv({"13x13 output, batch 4", 4, 40, 13, 13, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, K::Relu});
  check_conv({"10x16 output, asymmetric pads, batch 4", 4, 32, 11, 15, 5, 3, 3, 1, 1, 1, 1, 0, 2, 1, 1, 1, false});
  // From 28x28 outputs: 4x4 blocks, with partial blocks at the bottom and right edges.
  check_conv({"F(4x4, 3x3), odd sizes, batch 2", 2, 33, 31, 30, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, K::Relu});
  check_conv({"F(4x4, 3x3), asymmetric pads, row chunks", 1, 32, 90, 37, 3, 3, 3, 1, 1, 1, 1, 0, 2, 1, 0, 1, false});
}

// Constant weights are packed for the GEMM kernel chosen when the node is built: every kernel this
// CPU has (and BLAS) under im2col, 1x1 and Winograd, with ragged register tiles.
TEST(ConvKernel, EveryGemmKernel) {
  using K = Activation::Kind;
  const cpu::GemmIsa saved = cpu::gemm_isa();
  for (cpu::GemmIsa isa : {cpu::GemmIsa::Blas, cpu::GemmIsa::Avx2, cpu::GemmIsa::Avx512}) {
    if (!cpu::gemm_isa_supported(isa)) continue;
    SCOPED_TRACE("gemm isa " + std::to_string(int(isa)));
    cpu::set_gemm_isa(isa);
    check_conv({"im2col 3x3 s2, 37 outputs", 2, 19, 23, 17, 37, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true, K::Relu});
    check_conv({"im2col split over the pool", 1, 129, 5, 7, 131, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, K::Clip});
    check_conv({"im2col groups 2", 3, 32, 17, 15, 30, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2});
    check_conv({"im2col, few taps x channels", 2, 3, 29, 31, 33, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true, K::Clip});
    check_conv({"1x1 expansion", 1, 24, 21, 19, 144, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, true, K::Clip});
    check_conv({"1x1, K over one block", 2, 300, 9, 11, 45, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, true, K::LeakyRelu});
    check_conv({"1x1 grouped", 2, 64, 7, 5, 96, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2, false});
    check_conv({"winograd F(2x2)", 2, 40, 13, 11, 29, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, K::HardSwish});
    check_conv({"winograd F(4x4)", 1, 33, 31, 30, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, K::Relu});
  }
  cpu::set_gemm_isa(saved);
}

TEST(ConvKernel, AutoPad) {
  for (const char* mode : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
    check_conv({mode, 2, 3, 13, 8, 4, 4, 3, 2, 3, 1, 1, 0, 0, 0, 0, 1, true, Activation::Kind::None, mode});
    check_conv({mode, 1, 4, 9, 10, 4, 2, 3, 2, 1, 1, 1, 0, 0, 0, 0, 4, true, Activation::Kind::None, mode});
  }
}

TEST(ConvKernel, FusedActivations) {
  using K = Activation::Kind;
  for (K kind : {K::Relu, K::LeakyRelu, K::Clip, K::Sigmoid, K::HardSigmoid, K::HardSwish, K::Tanh}) {
    check_conv({"im2col", 1, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, kind});
    check_conv({"depthwise", 1, 4, 7, 19, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4, true, kind});
    check_conv({"winograd", 1, 32, 9, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, kind});
  }
}

TEST(ConvKernel, OneDimensional) {
  Tensor x = random_tensor({2, 4, 13}, 4), w = random_tensor({6, 2, 3}, 5), b = random_tensor({6}, 6);
  OneNode node("Conv", {input(x), constant(w), constant(b)},
               attrs({{"strides", ints_attr({2})}, {"pads", ints_attr({2, 1})}, {"dilations", ints_attr({2})},
                      {"group", int_attr(2)}}));
  Tensor y = node.run();
  ConvCase p{"1-D", 2, 4, 1, 13, 6, 1, 3, 1, 2, 1, 2, 0, 2, 0, 1, 2};
  EXPECT_EQ(shape_str(y.shape()), "[2, 6, 6]");
  expect_near(y.reshaped({2, 6, 1, 6}),
              reference_conv(x.reshaped({2, 4, 1, 13}), w.reshaped({6, 2, 1, 3}), b.data<float>(), p, Activation()));
  // Depthwise (group == channels), multiplier 2.
  Tensor wd = random_tensor({8, 1, 5}, 7);
  OneNode depthwise("Conv", {input(x), constant(wd)}, attrs({{"pads", ints_attr({3, 2})}, {"group", int_attr(4)}}));
  ConvCase pd{"1-D depthwise", 2, 4, 1, 13, 8, 1, 5, 1, 1, 1, 1, 0, 3, 0, 2, 4, false};
  Tensor yd = depthwise.run();
  EXPECT_EQ(shape_str(yd.shape()), "[2, 8, 14]");
  expect_near(yd.reshaped({2, 8, 1, 14}),
              reference_conv(x.reshaped({2, 4, 1, 13}), wd.reshaped({8, 1, 1, 5}), nullptr, pd, Activation()));
}

TEST(ConvSchema, OutputShapes) {
  auto shape = [](Shape x, Shape w, Attributes a) {
    return shape_str(OneNode("Conv", {input(Tensor::empty(DType::Float32, x)), constant(Tensor::empty(DType::Float32, w))},
                             std::move(a))
                         .output_shape());
  };
  EXPECT_EQ(shape({1, 3, 224, 224}, {64, 3, 7, 7}, attrs({{"strides", ints_attr({2, 2})}, {"pads", ints_attr({3, 3, 3, 3})}})),
            "[1, 64, 112, 112]");
  EXPECT_EQ(shape({2, 8, 13, 13}, {8, 1, 3, 3}, attrs({{"group", int_attr(8)}, {"strides", ints_attr({2, 2})},
                                                       {"auto_pad", string_attr("SAME_UPPER")}})),
            "[2, 8, 7, 7]");
  EXPECT_EQ(shape({1, 2, 13, 7}, {4, 2, 3, 3}, attrs({{"auto_pad", string_attr("VALID")}, {"dilations", ints_attr({2, 1})}})),
            "[1, 4, 9, 5]");
  EXPECT_EQ(shape({1, 2, 13}, {4, 2, 3}, attrs({{"strides", ints_attr({3})}})), "[1, 4, 4]");
}

TEST(ConvSchema, Errors) {
  auto conv = [](Shape x, Shape w, Attributes a = {}, DType t = DType::Float32, Shape b = {}) {
    std::vector<Arg> args = {input(Tensor::empty(t, x)), constant(Tensor::empty(DType::Float32, w))};
    if (!b.empty()) args.push_back(constant(Tensor::empty(DType::Float32, b)));
    return [=] { OneNode("Conv", args, a).infer(); };
  };
  expect_error<ShapeError>(conv({1, 3, 8, 8}, {4, 3, 3}), "Conv 'n0': weight 'in1' has 3 dims, expected 4", true);
  expect_error<ShapeError>(conv({1, 3, 8, 8}, {4, 2, 3, 3}), "Conv 'n0': weight [4, 2, 3, 3] expects 2 input channels");
  expect_error<ShapeError>(conv({1, 6, 8, 8}, {4, 3, 3, 3}, attrs({{"group", int_attr(4)}})), "not divisible by group 4");
  expect_error<ShapeError>(conv({1, 6, 8, 8}, {5, 3, 3, 3}, attrs({{"group", int_attr(2)}})),
                           "5 output channels, not a positive multiple of group 2");
  expect_error<ShapeError>(conv({1, 3, 8, 8}, {4, 3, 3, 3}, {}, DType::Float32, {5}), "bias has shape [5], expected [4]");
  expect_error<ShapeError>(conv({1, 3, 4, 4}, {4, 3, 5, 5}), "larger than spatial dim 0 of the padded input (4)");
  expect_error<ShapeError>(conv({1, 3, 4, 4}, {4, 3, 3, 3}, attrs({{"kernel_shape", ints_attr({2, 2})}})),
                           "kernel_shape [2, 2] does not match weight");
  expect_error<ModelError>(conv({1, 3, 8, 8}, {4, 3, 3, 3}, attrs({{"auto_pad", string_attr("SAME")}})),
                           "auto_pad 'SAME' is not one of");
  expect_error<ModelError>(conv({1, 3, 8, 8}, {4, 3, 3, 3}, attrs({{"strides", ints_attr({1})}})),
                           "Conv 'n0': strides has 1 values, expected 2");
  expect_error<ModelError>(conv({1, 3, 8, 8}, {4, 3, 3, 3}, attrs({{"pads", ints_attr({1, 1, -1, 1})}})), "must be >= 0");
  expect_error<ModelError>(conv({1, 3, 8, 8}, {4, 3, 3, 3}, attrs({{"group", int_attr(0)}})), "group 0 must be >= 1");
  expect_error<UnsupportedOpError>(conv({1, 3, 4, 4, 4}, {4, 3, 3, 3, 3}), "3-D convolution is not supported");
  expect_error<DtypeError>(conv({1, 3, 8, 8}, {4, 3, 3, 3}, {}, DType::Int64), "input 0 'in0' is int64, expected float32");
  expect_error<ModelError>([] { OneNode("Conv", {input(random_tensor({1, 3, 4, 4}, 1))}).infer(); },
                           "has 1 inputs, expected 2 to 3");
  // A fused residual (a .metalnn Conv with _residual) may omit its bias but never the residual itself.
  const Attributes residual = attrs({{"_residual", int_attr(1)}});
  expect_error<ModelError>(conv({1, 3, 8, 8}, {4, 3, 3, 3}, residual, DType::Float32, {4}),
                           "Conv 'n0': _residual is set but the residual input is missing");
  expect_error<ModelError>(conv({1, 3, 8, 8}, {4, 3, 3, 3}, residual), "residual input is missing");
  expect_error<ShapeError>(
      [] {
        OneNode("Conv",
                {input(Tensor::empty(DType::Float32, {1, 3, 8, 8})), constant(Tensor::empty(DType::Float32, {4, 3, 3, 3})),
                 omitted(), input(Tensor::empty(DType::Float32, {1, 4, 5, 6}))},
                attrs({{"_residual", int_attr(1)}}))
            .infer();
      },
      "residual [1, 4, 5, 6] does not match the output [1, 4, 6, 6]");
}

}  // namespace
}  // namespace metalnn::test
