// Elementwise, Where, Cast and Reduce ops: shape inference, error messages and CPU kernels against
// small expected values and naive references (odd sizes, broadcasting, negative axes, int64).
#include <cmath>
#include <functional>
#include <limits>

#include "core/error.h"
#include "tensor_ops_util.h"

namespace metalnn::test {
namespace {

// Naive NumPy-broadcast reference: out[idx] = fn(a[idx mapped], b[idx mapped]).
Tensor broadcast_reference(const Tensor& a, const Tensor& b, const Shape& out_shape,
                           const std::function<float(float, float)>& fn) {
  Tensor out = Tensor::empty(DType::Float32, out_shape);
  const size_t rank = out_shape.size();
  auto index_into = [&](const Tensor& t, const std::vector<int64_t>& idx) {
    int64_t off = 0;
    const size_t lead = rank - t.shape().size();
    for (size_t d = 0; d < t.shape().size(); ++d) off = off * t.shape()[d] + (t.shape()[d] == 1 ? 0 : idx[lead + d]);
    return off;
  };
  std::vector<int64_t> idx(rank, 0);
  for (int64_t i = 0; i < out.numel(); ++i) {
    int64_t r = i;
    for (size_t d = rank; d-- > 0;) {
      idx[d] = r % out_shape[d];
      r /= out_shape[d];
    }
    out.data<float>()[i] = fn(a.data<float>()[index_into(a, idx)], b.data<float>()[index_into(b, idx)]);
  }
  return out;
}

// ---- binary ----

struct BroadcastCase {
  Shape a, b, out;
};

TEST(Binary, BroadcastShapesMatchNaiveReference) {
  const std::vector<BroadcastCase> cases = {
      {{7, 13}, {7, 13}, {7, 13}},                       // same shape
      {{2, 3, 5, 7}, {3, 1, 1}, {2, 3, 5, 7}},           // per-channel on NCHW
      {{2, 3, 5, 7}, {}, {2, 3, 5, 7}},                  // scalar
      {{1}, {4, 129}, {4, 129}},                         // scalar on the left
      {{3, 1, 5}, {1, 4, 1}, {3, 4, 5}},                 // both broadcast
      {{6, 1}, {13}, {6, 13}},                           // outer product shape
      {{4, 64, 129}, {64, 1}, {4, 64, 129}},             // large enough to run on several threads
      {{2, 0, 3}, {3}, {2, 0, 3}},                       // empty
  };
  const std::vector<std::pair<const char*, std::function<float(float, float)>>> ops = {
      {"Add", [](float x, float y) { return x + y; }},
      {"Sub", [](float x, float y) { return x - y; }},
      {"Mul", [](float x, float y) { return x * y; }},
      {"Div", [](float x, float y) { return x / y; }},
      {"Max", [](float x, float y) { return std::max(x, y); }},
  };
  unsigned seed = 1;
  for (const BroadcastCase& c : cases) {
    const Tensor a = random_tensor(c.a, seed++), b = random_tensor(c.b, seed++, 0.5f, 2.f);
    for (const auto& [op, fn] : ops) {
      SCOPED_TRACE(std::string(op) + " " + shape_str(c.a) + " " + shape_str(c.b));
      ASSERT_EQ(infer_shape(op, {input(a), input(b)}), c.out);
      expect_near(run1(op, {input(a), input(b)}), broadcast_reference(a, b, c.out, fn), 1e-6f);
    }
  }
}

TEST(Binary, IncompatibleShapesNameBoth) {
  expect_error<ShapeError>([] { infer_shape("Add", {input(random_tensor({2, 3}, 1)), input(random_tensor({4}, 2))}); },
                           "Add 'n0': cannot broadcast [2, 3] ('in0') with [4] ('in1')");
}

TEST(Binary, MixedDtypesAreRejected) {
  expect_error<DtypeError>([] { infer_shape("Add", {input(random_tensor({2}, 1)), input(i64({2}, {1, 2}))}); },
                           "Add 'n0': input 1 'in1' is int64, expected float32 like input 0 'in0'");
  expect_error<DtypeError>([] { infer_shape("Mul", {input(boolean({1}, {1})), input(boolean({1}, {1}))}); },
                           "input 0 'in0' is bool, expected float32, int64 or int32");
}

TEST(Binary, Int64ShapeArithmetic) {
  const Tensor a = i64({4}, {1, 7, -7, 12}), b = i64({}, {2});
  EXPECT_EQ(values<int64_t>(run1("Add", {input(a), constant(b)})), (std::vector<int64_t>{3, 9, -5, 14}));
  EXPECT_EQ(values<int64_t>(run1("Mul", {input(a), constant(b)})), (std::vector<int64_t>{2, 14, -14, 24}));
  // Integer division truncates toward zero, as ONNX Runtime does.
  EXPECT_EQ(values<int64_t>(run1("Div", {input(a), constant(b)})), (std::vector<int64_t>{0, 3, -3, 6}));
  EXPECT_EQ(values<int64_t>(run1("Sub", {constant(b), input(a)})), (std::vector<int64_t>{1, -5, 9, -10}));
  const Tensor c = i32({3}, {5, -2, 9}), d = i32({3}, {3, 4, -1});
  EXPECT_EQ(values<int32_t>(run1("Min", {input(c), input(d)})), (std::vector<int32_t>{3, -2, -1}));
  const int64_t lowest = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(values<int64_t>(run1("Div", {input(i64({1}, {lowest})), input(i64({1}, {-1}))}))[0], lowest);
}

TEST(Binary, IntegerDivisionByZeroRaises) {
  expect_error<ModelError>([] { run1("Div", {input(i64({2}, {4, 5})), input(i64({2}, {1, 0}))}); },
                           "Div 'n0': integer division by zero");
}

TEST(Binary, PowWithFloatAndIntegerExponents) {
  const Tensor x = f32({4}, {1.5f, -2.f, 3.f, 0.25f});
  expect_near(run1("Pow", {input(x), constant(f32({}, {2.f}))}), f32({4}, {2.25f, 4.f, 9.f, 0.0625f}));
  expect_near(run1("Pow", {input(x), constant(i64({}, {3}))}), f32({4}, {3.375f, -8.f, 27.f, 0.015625f}));
  expect_near(run1("Pow", {input(f32({2}, {4.f, 9.f})), input(f32({2}, {0.5f, -0.5f}))}), f32({2}, {2.f, 1.f / 3.f}));
  EXPECT_EQ(infer_dtype("Pow", {input(x), constant(i64({}, {3}))}), DType::Float32);
  EXPECT_EQ(values<int64_t>(run1("Pow", {input(i64({3}, {2, 3, -2})), constant(i64({}, {3}))})),
            (std::vector<int64_t>{8, 27, -8}));
}

TEST(Binary, PReluBroadcastsSlopeToX) {
  const Tensor x = random_tensor({2, 3, 5, 7}, 3), slope = f32({3, 1, 1}, {0.1f, 0.2f, 0.3f});
  expect_near(run1("PRelu", {input(x), constant(slope)}),
              broadcast_reference(x, slope, x.shape(), [](float v, float s) { return v < 0 ? v * s : v; }), 1e-6f);
  // A slope that would grow X is rejected: PRelu broadcasts one way only.
  expect_error<ShapeError>([] { infer_shape("PRelu", {input(random_tensor({3}, 1)), input(random_tensor({2, 3}, 2))}); },
                           "PRelu 'n0': slope 'in1' [2, 3] does not broadcast to X [3]");
}

TEST(Binary, VariadicMinMax) {
  const Tensor a = f32({2, 3}, {1, 5, 3, -1, 0, 9}), b = f32({3}, {2, 2, 2}), c = f32({2, 1}, {4, -5});
  EXPECT_EQ(infer_shape("Max", {input(a), input(b), input(c)}), (Shape{2, 3}));
  expect_near(run1("Max", {input(a), input(b), input(c)}), f32({2, 3}, {4, 5, 4, 2, 2, 9}));
  expect_near(run1("Min", {input(b), input(c), input(a)}), f32({2, 3}, {1, 2, 2, -5, -5, -5}));
  expect_near(run1("Min", {input(a)}), a);
  // The first input broadcasts too: its shape is not the output's.
  expect_near(run1("Max", {input(b), input(c)}), f32({2, 3}, {4, 4, 4, 2, 2, 2}));
}

TEST(Binary, Comparisons) {
  const Tensor a = i64({2, 3}, {1, 2, 3, 4, 5, 6}), b = i64({3}, {2, 2, 7});
  EXPECT_EQ(infer_dtype("Equal", {input(a), input(b)}), DType::Bool);
  EXPECT_EQ(values<uint8_t>(run1("Equal", {input(a), input(b)})), (std::vector<uint8_t>{0, 1, 0, 0, 0, 0}));
  EXPECT_EQ(values<uint8_t>(run1("Less", {input(a), input(b)})), (std::vector<uint8_t>{1, 0, 1, 0, 0, 1}));
  EXPECT_EQ(values<uint8_t>(run1("Greater", {input(f32({2}, {0.5f, -1.f})), input(f32({}, {0.f}))})),
            (std::vector<uint8_t>{1, 0}));
  EXPECT_EQ(values<uint8_t>(run1("Equal", {input(boolean({3}, {1, 0, 1})), input(boolean({1}, {1}))})),
            (std::vector<uint8_t>{1, 0, 1}));
  expect_error<DtypeError>([] { infer_shape("Less", {input(boolean({1}, {1})), input(boolean({1}, {1}))}); },
                           "Less 'n0': input 0 'in0' is bool");
}

// ---- unary ----

TEST(Unary, MathOpsMatchStd) {
  const Tensor x = random_tensor({3, 129}, 7, 0.05f, 3.f);
  const std::vector<std::pair<const char*, float (*)(float)>> ops = {
      {"Erf", [](float v) { return std::erf(v); }},   {"Sqrt", [](float v) { return std::sqrt(v); }},
      {"Exp", [](float v) { return std::exp(v); }},   {"Log", [](float v) { return std::log(v); }},
      {"Neg", [](float v) { return -v; }},            {"Abs", [](float v) { return std::fabs(-v); }},
      {"Reciprocal", [](float v) { return 1.f / v; }}, {"Floor", [](float v) { return std::floor(v); }},
      {"Ceil", [](float v) { return std::ceil(v); }},  {"Tanh", [](float v) { return std::tanh(v); }},
      {"Sigmoid", [](float v) { return 1.f / (1.f + std::exp(-v)); }},
      {"Relu", [](float v) { return std::max(v, 0.f); }},
  };
  for (const auto& [op, fn] : ops) {
    SCOPED_TRACE(op);
    Tensor expected = Tensor::empty(DType::Float32, x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) expected.data<float>()[i] = fn(x.data<float>()[i]);
    expect_near(run1(op, {input(x)}), expected, 1e-6f);
  }
}

TEST(Unary, ActivationAttributes) {
  const Tensor x = f32({5}, {-6.f, -1.f, 0.f, 1.f, 6.f});
  expect_near(run1("LeakyRelu", {input(x)}, attrs({{"alpha", float_attr(0.5f)}})), f32({5}, {-3.f, -0.5f, 0, 1, 6}));
  expect_near(run1("LeakyRelu", {input(x)}), f32({5}, {-0.06f, -0.01f, 0, 1, 6}));
  expect_near(run1("HardSigmoid", {input(x)}, attrs({{"alpha", float_attr(0.25f)}, {"beta", float_attr(0.5f)}})),
              f32({5}, {0.f, 0.25f, 0.5f, 0.75f, 1.f}));
  expect_near(run1("HardSwish", {input(x)}), f32({5}, {0.f, -1.f / 3.f, 0.f, 2.f / 3.f, 6.f}));
}

TEST(Unary, ClipBoundsAreOptionalInputs) {
  const Tensor x = f32({5}, {-6.f, -1.f, 0.f, 1.f, 6.f});
  const Tensor lo = f32({}, {-2.f}), hi = f32({}, {0.5f});
  expect_near(run1("Clip", {input(x), constant(lo), constant(hi)}), f32({5}, {-2.f, -1.f, 0.f, 0.5f, 0.5f}));
  expect_near(run1("Clip", {input(x), omitted(), constant(hi)}), f32({5}, {-6.f, -1.f, 0.f, 0.5f, 0.5f}));
  expect_near(run1("Clip", {input(x), constant(lo)}), f32({5}, {-2.f, -1.f, 0.f, 1.f, 6.f}));
  expect_near(run1("Clip", {input(x)}), x);
  // Bounds known only at run time.
  expect_near(run1("Clip", {input(x), input(lo), input(hi)}), f32({5}, {-2.f, -1.f, 0.f, 0.5f, 0.5f}));
  expect_error<ShapeError>([&] { infer_shape("Clip", {input(x), constant(f32({2}, {0, 1}))}); },
                           "Clip 'n0': min 'in1' has shape [2], expected a scalar");
}

TEST(Unary, IntegerNegAbsAndFloatOnlyErrors) {
  EXPECT_EQ(values<int64_t>(run1("Neg", {input(i64({3}, {1, -2, 0}))})), (std::vector<int64_t>{-1, 2, 0}));
  EXPECT_EQ(values<int32_t>(run1("Abs", {input(i32({3}, {1, -2, 0}))})), (std::vector<int32_t>{1, 2, 0}));
  expect_error<DtypeError>([] { infer_shape("Sqrt", {input(i64({1}, {4}))}); },
                           "Sqrt 'n0': input 0 'in0' is int64, expected float32");
}

TEST(Unary, LargeInputRunsOnSeveralThreads) {
  const Tensor x = random_tensor({5, 13, 1029}, 11);
  Tensor expected = Tensor::empty(DType::Float32, x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) expected.data<float>()[i] = std::min(std::max(x.data<float>()[i], -0.5f), 0.5f);
  expect_near(run1("Clip", {input(x), constant(f32({}, {-0.5f})), constant(f32({}, {0.5f}))}), expected, 0.f);
}

// ---- Where, Cast ----

TEST(Where, BroadcastsAllThreeInputs) {
  const Tensor cond = boolean({2, 1}, {1, 0}), x = i64({3}, {1, 2, 3}), y = i64({}, {-1});
  EXPECT_EQ(infer_shape("Where", {input(cond), input(x), input(y)}), (Shape{2, 3}));
  EXPECT_EQ(values<int64_t>(run1("Where", {input(cond), input(x), input(y)})),
            (std::vector<int64_t>{1, 2, 3, -1, -1, -1}));
  const Tensor big_cond = boolean({1, 4}, {1, 0, 0, 1});
  const Tensor a = random_tensor({7, 4}, 1), b = random_tensor({7, 1}, 2);
  Tensor expected = Tensor::empty(DType::Float32, {7, 4});
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 4; ++j)
      expected.data<float>()[i * 4 + j] = (j == 0 || j == 3) ? a.data<float>()[i * 4 + j] : b.data<float>()[i];
  expect_near(run1("Where", {input(big_cond), input(a), input(b)}), expected, 0.f);
  expect_error<DtypeError>([&] { infer_shape("Where", {input(a), input(a), input(b)}); },
                           "Where 'n0': input 0 'in0' is float32, expected bool");
  expect_error<DtypeError>([&] { infer_shape("Where", {input(cond), input(a), input(x)}); },
                           "input 2 'in2' is int64, expected float32");
}

TEST(Cast, ConvertsBetweenStoredTypes) {
  const Tensor x = f32({6}, {1.7f, -1.7f, 0.f, std::nanf(""), 1e30f, -1e30f});
  const Tensor as_int = run1("Cast", {input(x)}, attrs({{"to", int_attr(7)}}));
  ASSERT_EQ(as_int.dtype(), DType::Int64);
  // Truncation toward zero; NaN and out-of-range values saturate instead of being undefined.
  EXPECT_EQ(values<int64_t>(as_int), (std::vector<int64_t>{1, -1, 0, 0, std::numeric_limits<int64_t>::max(),
                                                           std::numeric_limits<int64_t>::min()}));
  EXPECT_EQ(values<uint8_t>(run1("Cast", {input(x)}, attrs({{"to", int_attr(9)}}))),
            (std::vector<uint8_t>{1, 1, 0, 1, 1, 1}));
  expect_near(run1("Cast", {input(boolean({3}, {1, 0, 1}))}, attrs({{"to", int_attr(1)}})), f32({3}, {1, 0, 1}));
  expect_near(run1("Cast", {input(i64({2}, {-3, 40000}))}, attrs({{"to", int_attr(1)}})), f32({2}, {-3, 40000}));
  EXPECT_EQ(values<int32_t>(run1("Cast", {input(i64({2}, {-3, 7}))}, attrs({{"to", int_attr(6)}}))),
            (std::vector<int32_t>{-3, 7}));
  const Tensor half = run1("Cast", {input(f32({2}, {0.5f, -3.25f}))}, attrs({{"to", int_attr(10)}}));
  ASSERT_EQ(half.dtype(), DType::Float16);
  expect_near(run1("Cast", {input(half)}, attrs({{"to", int_attr(1)}})), f32({2}, {0.5f, -3.25f}), 0.f);
  expect_error<DtypeError>([] { infer_shape("Cast", {input(f32({1}, {1}))}, attrs({{"to", int_attr(11)}})); },
                           "Cast 'n0': attribute 'to': float64 (ONNX element type 11) is not a dtype the engine stores");
  expect_error<ModelError>([] { infer_shape("Cast", {input(f32({1}, {1}))}); }, "Cast 'n0': attribute 'to' is required");
}

// ---- Reduce ----

// Naive reduction: walk every input element, accumulate into its output slot.
Tensor reduce_reference(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims, const std::string& op) {
  const Shape& in = x.shape();
  const int rank = static_cast<int>(in.size());
  std::vector<char> mask(rank, axes.empty() ? 1 : 0);
  for (int64_t a : axes) mask[a < 0 ? a + rank : a] = 1;
  Shape out_full, out;
  for (int d = 0; d < rank; ++d) {
    out_full.push_back(mask[d] ? 1 : in[d]);
    if (!mask[d] || keepdims) out.push_back(out_full.back());
  }
  Tensor y = Tensor::empty(DType::Float32, out);
  std::vector<double> acc(static_cast<size_t>(y.numel()), op == "ReduceMax" ? -1e30 : op == "ReduceMin" ? 1e30 : 0.0);
  std::vector<int64_t> count(acc.size(), 0);
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t r = i, o = 0, scale = 1;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t idx = r % in[d];
      r /= in[d];
      o += (mask[d] ? 0 : idx) * scale;
      scale *= out_full[d];
    }
    const double v = x.data<float>()[i];
    acc[o] = op == "ReduceMax" ? std::max(acc[o], v) : op == "ReduceMin" ? std::min(acc[o], v) : acc[o] + v;
    ++count[o];
  }
  for (size_t o = 0; o < acc.size(); ++o)
    y.data<float>()[o] = static_cast<float>(op == "ReduceMean" ? acc[o] / count[o] : acc[o]);
  return y;
}

TEST(Reduce, MatchesNaiveReferenceOverAxesAndShapes) {
  const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
      {{2, 3, 5, 7}, {2, 3}},      // global pooling
      {{2, 3, 5, 7}, {1}},         // middle axis: contiguous rows accumulated
      {{2, 3, 5, 7}, {0, 2}},      // alternating
      {{2, 3, 5, 7}, {-1}},        // last axis, negative
      {{13, 1, 129}, {0}},         // outermost, with a size-1 dim in between
      {{7, 13}, {}},               // all
      {{3, 300, 129}, {1}},        // large: several threads over rows
      {{129, 2, 257}, {0, 2}},     // large: several threads over reductions
  };
  unsigned seed = 1;
  for (const auto& [shape, axes] : cases) {
    const Tensor x = random_tensor(shape, seed++);
    for (const char* op : {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"}) {
      for (int keepdims : {0, 1}) {
        SCOPED_TRACE(std::string(op) + " " + shape_str(shape) + " axes " + shape_str(axes) + " keepdims " +
                     std::to_string(keepdims));
        std::vector<Arg> args = {input(x)};
        if (!axes.empty()) args.push_back(constant(i64({static_cast<int64_t>(axes.size())}, axes)));
        expect_near(run1(op, args, attrs({{"keepdims", int_attr(keepdims)}})), reduce_reference(x, axes, keepdims, op),
                    1e-4f);
      }
    }
  }
}

TEST(Reduce, ShapesAttributesAndInts) {
  const Tensor x = random_tensor({2, 3, 4}, 1);
  EXPECT_EQ(infer_shape("ReduceMean", {input(x), constant(i64({1}, {-2}))}), (Shape{2, 1, 4}));
  EXPECT_EQ(infer_shape("ReduceSum", {input(x)}, attrs({{"keepdims", int_attr(0)}})), (Shape{}));
  // Pre-18 attribute form, kept for hand-built graphs.
  EXPECT_EQ(infer_shape("ReduceMax", {input(x)}, attrs({{"axes", ints_attr({0, 2})}, {"keepdims", int_attr(0)}})),
            (Shape{3}));
  // noop_with_empty_axes: no axes means the identity.
  expect_near(run1("ReduceSum", {input(x)}, attrs({{"noop_with_empty_axes", int_attr(1)}})), x);
  expect_near(run1("ReduceSum", {input(x), constant(i64({0}, {}))}, attrs({{"noop_with_empty_axes", int_attr(1)}})), x);
  const Tensor n = i64({2, 3}, {4, -1, 9, 2, 8, -7});
  EXPECT_EQ(values<int64_t>(run1("ReduceMax", {input(n), constant(i64({1}, {1}))}, attrs({{"keepdims", int_attr(0)}}))),
            (std::vector<int64_t>{9, 8}));
  EXPECT_EQ(values<int64_t>(run1("ReduceMin", {input(n), constant(i64({1}, {0}))})), (std::vector<int64_t>{2, -1, -7}));
  EXPECT_EQ(values<int64_t>(run1("ReduceSum", {input(n)}, attrs({{"keepdims", int_attr(0)}}))),
            (std::vector<int64_t>{15}));
  // Empty reductions: sum 0, max -inf.
  const Tensor empty = Tensor::empty(DType::Float32, {2, 0});
  expect_near(run1("ReduceSum", {input(empty), constant(i64({1}, {1}))}), f32({2, 1}, {0, 0}));
  EXPECT_EQ(values<float>(run1("ReduceMax", {input(empty), constant(i64({1}, {1}))}))[0],
            -std::numeric_limits<float>::infinity());
}

TEST(Reduce, Errors) {
  const Tensor x = random_tensor({2, 3}, 1);
  expect_error<ModelError>([&] { infer_shape("ReduceMean", {input(x), constant(i64({1}, {2}))}); },
                           "ReduceMean 'n0': axis 2 is out of range for rank 2");
  expect_error<ModelError>([&] { infer_shape("ReduceMean", {input(x), constant(i64({2}, {1, -1}))}); },
                           "axes repeat axis 1");
  expect_error<UnsupportedOpError>([&] { infer_shape("ReduceSum", {input(x), input(i64({1}, {1}))}); },
                                   "ReduceSum 'n0': axes ('in1') must be a constant");
  expect_error<DtypeError>([&] { infer_shape("ReduceSum", {input(x), constant(f32({1}, {1}))}); },
                           "axes input 1 'in1' is float32, expected int64");
}

}  // namespace
}  // namespace metalnn::test
