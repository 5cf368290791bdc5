// Data-movement and shape ops (Concat, Split, Reshape family, Transpose, Slice, Gather, Pad, Shape,
// Size, ConstantOfShape, Expand, Range): shape inference, error messages and CPU kernels against
// small expected values and naive references, plus a Shape -> Gather -> Concat -> Reshape fold.
#include <algorithm>
#include <limits>

#include "core/error.h"
#include "core/passes/passes.h"
#include "cpu/evaluator.h"
#include "tensor_ops_util.h"

namespace metalnn::test {
namespace {

// x[i] = i, for checking which elements moved where.
Tensor iota(const Shape& s) {
  Tensor t = Tensor::empty(DType::Float32, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}

// Row-major flat index of `idx` in `shape`.
int64_t flat(const Shape& shape, const std::vector<int64_t>& idx) {
  int64_t o = 0;
  for (size_t d = 0; d < shape.size(); ++d) o = o * shape[d] + idx[d];
  return o;
}

// Calls fn(index) for every index of `shape` in row-major order.
template <class F>
void for_each_index(const Shape& shape, F&& fn) {
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t i = 0; i < shape_numel(shape); ++i) {
    int64_t r = i;
    for (size_t d = shape.size(); d-- > 0;) {
      idx[d] = r % shape[d];
      r /= shape[d];
    }
    fn(idx);
  }
}

Tensor shape_tensor(const std::vector<int64_t>& v) { return i64({static_cast<int64_t>(v.size())}, v); }

// ---- Concat, Split ----

TEST(Concat, NegativeAxisOddSizes) {
  const Tensor a = iota({2, 3, 5}), b = random_tensor({2, 3, 1}, 1), c = random_tensor({2, 3, 7}, 2);
  const Tensor y = run1("Concat", {input(a), constant(b), input(c)}, attrs({{"axis", int_attr(-1)}}));
  ASSERT_EQ(y.shape(), (Shape{2, 3, 13}));
  for_each_index(y.shape(), [&](const std::vector<int64_t>& i) {
    const int64_t k = i[2];
    const float expected = k < 5 ? a.data<float>()[flat(a.shape(), {i[0], i[1], k})]
                           : k < 6 ? b.data<float>()[flat(b.shape(), {i[0], i[1], 0})]
                                   : c.data<float>()[flat(c.shape(), {i[0], i[1], k - 6})];
    ASSERT_EQ(y.data<float>()[flat(y.shape(), i)], expected);
  });
}

TEST(Concat, Int64ShapeVectorsAndErrors) {
  const Tensor y = run1("Concat", {input(i64({1}, {4})), input(i64({0}, {})), input(i64({2}, {-1, 7}))},
                        attrs({{"axis", int_attr(0)}}));
  EXPECT_EQ(values<int64_t>(y), (std::vector<int64_t>{4, -1, 7}));
  expect_error<ShapeError>(
      [] { infer_shape("Concat", {input(iota({2, 3})), input(iota({3, 3}))}, attrs({{"axis", int_attr(1)}})); },
      "Concat 'n0': input 1 'in1' has shape [3, 3], which does not match input 0 [2, 3] outside axis 1");
  expect_error<ModelError>([] { infer_shape("Concat", {input(iota({2}))}); }, "attribute 'axis' is required");
  expect_error<DtypeError>(
      [] { infer_shape("Concat", {input(iota({2})), input(i64({1}, {1}))}, attrs({{"axis", int_attr(0)}})); },
      "input 1 'in1' is int64, expected float32");
}

TEST(Split, SizesFromInputAttributeOrOutputCount) {
  const Tensor x = iota({3, 7});
  // Sizes input, axis -1.
  std::vector<Tensor> parts =
      run_op("Split", {input(x), constant(shape_tensor({2, 0, 5}))}, attrs({{"axis", int_attr(-1)}}), 3);
  ASSERT_EQ(parts[0].shape(), (Shape{3, 2}));
  ASSERT_EQ(parts[1].shape(), (Shape{3, 0}));
  ASSERT_EQ(parts[2].shape(), (Shape{3, 5}));
  EXPECT_EQ(values<float>(parts[0]), (std::vector<float>{0, 1, 7, 8, 14, 15}));
  EXPECT_EQ(values<float>(parts[2])[5], 9.f);
  // num_outputs (opset 18): ceil-sized chunks, the last one smaller.
  parts = run_op("Split", {input(x)}, attrs({{"axis", int_attr(1)}, {"num_outputs", int_attr(3)}}), 3);
  EXPECT_EQ(parts[0].shape(), (Shape{3, 3}));
  EXPECT_EQ(parts[2].shape(), (Shape{3, 1}));
  EXPECT_EQ(values<float>(parts[2]), (std::vector<float>{6, 13, 20}));
  // Equal split by the number of outputs.
  parts = run_op("Split", {input(x)}, {}, 3);
  EXPECT_EQ(values<float>(parts[1]), (std::vector<float>{7, 8, 9, 10, 11, 12, 13}));
  expect_error<ShapeError>([&] { infer_shape("Split", {input(x)}, attrs({{"axis", int_attr(1)}}), 2); },
                           "Split 'n0': axis 1 of [3, 7] does not split evenly into 2 outputs");
  expect_error<ShapeError>([&] { infer_shape("Split", {input(x), constant(shape_tensor({2, 2}))}, {}, 2); },
                           "split sizes add up to 4, but axis 0 of [3, 7] has 3");
  expect_error<ModelError>([&] { infer_shape("Split", {input(x), constant(shape_tensor({3}))}, {}, 2); },
                           "split has 1 sizes but the node has 2 outputs");
}

// ---- Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout ----

TEST(Reshape, ZeroCopiesAndMinusOneInfers) {
  const Tensor x = iota({2, 3, 4});
  EXPECT_EQ(infer_shape("Reshape", {input(x), constant(shape_tensor({0, -1}))}), (Shape{2, 12}));
  EXPECT_EQ(infer_shape("Reshape", {input(x), constant(shape_tensor({-1, 0, 2}))}), (Shape{4, 3, 2}));
  EXPECT_EQ(infer_shape("Reshape", {input(x), constant(shape_tensor({24}))}), (Shape{24}));
  const Tensor y = run1("Reshape", {input(x), constant(shape_tensor({4, -1}))});
  EXPECT_EQ(values<float>(y), values<float>(x));
  // allowzero: 0 is a real zero-sized dim.
  const Tensor empty = Tensor::empty(DType::Float32, {0, 3});
  EXPECT_EQ(infer_shape("Reshape", {input(empty), constant(shape_tensor({3, 0}))}, attrs({{"allowzero", int_attr(1)}})),
            (Shape{3, 0}));
}

TEST(Reshape, Errors) {
  const Tensor x = iota({2, 3, 4});
  expect_error<ShapeError>([&] { infer_shape("Reshape", {input(x), constant(shape_tensor({5, -1}))}); },
                           "Reshape 'n0': cannot reshape [2, 3, 4] (24 elements) to [5, -1]");
  expect_error<ShapeError>([&] { infer_shape("Reshape", {input(x), constant(shape_tensor({5, 5}))}); },
                           "cannot reshape [2, 3, 4] (24 elements) to [5, 5] (25 elements)");
  expect_error<ModelError>([&] { infer_shape("Reshape", {input(x), constant(shape_tensor({-1, -1}))}); },
                           "has more than one -1");
  expect_error<UnsupportedOpError>([&] { infer_shape("Reshape", {input(x), input(shape_tensor({24}))}); },
                                   "Reshape 'n0': shape ('in1') must be a constant");
  // The engine splits the plan at the value it names (engine/staged_executable.h).
  try {
    infer_shape("Reshape", {input(x), input(shape_tensor({24}))});
    ADD_FAILURE() << "no RuntimeValueNeeded";
  } catch (const RuntimeValueNeeded& e) {
    EXPECT_EQ(e.value(), "in1");
  }
  expect_error<DtypeError>([&] { infer_shape("Reshape", {input(x), constant(f32({1}, {24}))}); },
                           "shape input 1 'in1' is float32, expected int64");
}

TEST(Flatten, Axes) {
  const Tensor x = iota({2, 3, 5});
  EXPECT_EQ(infer_shape("Flatten", {input(x)}), (Shape{2, 15}));
  EXPECT_EQ(infer_shape("Flatten", {input(x)}, attrs({{"axis", int_attr(0)}})), (Shape{1, 30}));
  EXPECT_EQ(infer_shape("Flatten", {input(x)}, attrs({{"axis", int_attr(3)}})), (Shape{30, 1}));
  EXPECT_EQ(infer_shape("Flatten", {input(x)}, attrs({{"axis", int_attr(-1)}})), (Shape{6, 5}));
  EXPECT_EQ(values<float>(run1("Flatten", {input(x)})), values<float>(x));
  expect_error<ModelError>([&] { infer_shape("Flatten", {input(x)}, attrs({{"axis", int_attr(4)}})); },
                           "Flatten 'n0': axis 4 is out of range");
}

TEST(Squeeze, WithAndWithoutAxes) {
  const Tensor x = iota({1, 3, 1, 2});
  EXPECT_EQ(infer_shape("Squeeze", {input(x)}), (Shape{3, 2}));
  EXPECT_EQ(infer_shape("Squeeze", {input(x), constant(shape_tensor({-2}))}), (Shape{1, 3, 2}));
  EXPECT_EQ(infer_shape("Squeeze", {input(x)}, attrs({{"axes", ints_attr({0})}})), (Shape{3, 1, 2}));
  EXPECT_EQ(values<float>(run1("Squeeze", {input(x), constant(shape_tensor({0, 2}))})), values<float>(x));
  expect_error<ShapeError>([&] { infer_shape("Squeeze", {input(x), constant(shape_tensor({1}))}); },
                           "Squeeze 'n0': cannot squeeze axis 1 of [1, 3, 1, 2]: its size is 3, not 1");
}

TEST(Unsqueeze, AxesCountInTheOutputRank) {
  const Tensor x = iota({3, 2});
  EXPECT_EQ(infer_shape("Unsqueeze", {input(x), constant(shape_tensor({0, -1}))}), (Shape{1, 3, 2, 1}));
  EXPECT_EQ(infer_shape("Unsqueeze", {input(x), constant(shape_tensor({1, 3}))}), (Shape{3, 1, 2, 1}));
  EXPECT_EQ(infer_shape("Unsqueeze", {input(i64({}, {5})), constant(shape_tensor({0}))}), (Shape{1}));
  EXPECT_EQ(values<int64_t>(run1("Unsqueeze", {input(i64({}, {5})), constant(shape_tensor({0}))})),
            (std::vector<int64_t>{5}));
  expect_error<ModelError>([&] { infer_shape("Unsqueeze", {input(x), constant(shape_tensor({1, -3}))}); },
                           "Unsqueeze 'n0': axes repeat axis 1");
  expect_error<ModelError>([&] { infer_shape("Unsqueeze", {input(x), constant(shape_tensor({4}))}); },
                           "axis 4 is out of range for rank 3");
}

TEST(Identity, IdentityAndDropout) {
  const Tensor x = random_tensor({3, 5}, 1);
  expect_near(run1("Identity", {input(x)}), x, 0.f);
  const std::vector<Tensor> out = run_op("Dropout", {input(x), constant(f32({}, {0.5f}))}, {}, 2);
  expect_near(out[0], x, 0.f);
  ASSERT_EQ(out[1].dtype(), DType::Bool);
  EXPECT_EQ(values<uint8_t>(out[1]), std::vector<uint8_t>(15, 1));
  expect_error<UnsupportedOpError>(
      [&] { infer_shape("Dropout", {input(x), omitted(), constant(boolean({}, {1}))}); },
      "Dropout 'n0': training_mode must be false");
}

// ---- Transpose ----

TEST(Transpose, PermutationsMatchNaiveIndexing) {
  const Shape in = {2, 3, 5, 7};
  const Tensor x = iota(in);
  for (const std::vector<int64_t>& perm : std::vector<std::vector<int64_t>>{
           {0, 2, 3, 1}, {0, 3, 1, 2}, {3, 2, 1, 0}, {1, 0, 2, 3}, {0, 1, 3, 2}, {0, 1, 2, 3}}) {
    SCOPED_TRACE(shape_str(perm));
    const Tensor y = run1("Transpose", {input(x)}, attrs({{"perm", ints_attr(perm)}}));
    for_each_index(y.shape(), [&](const std::vector<int64_t>& o) {
      std::vector<int64_t> i(4);
      for (int d = 0; d < 4; ++d) i[perm[d]] = o[d];
      ASSERT_EQ(y.data<float>()[flat(y.shape(), o)], x.data<float>()[flat(in, i)]);
    });
  }
  // Default: reversed axes. Large enough for several threads.
  const Tensor big = iota({129, 257});
  const Tensor t = run1("Transpose", {input(big)});
  ASSERT_EQ(t.shape(), (Shape{257, 129}));
  for (int64_t i = 0; i < 129; ++i)
    for (int64_t j = 0; j < 257; ++j) ASSERT_EQ(t.data<float>()[j * 129 + i], big.data<float>()[i * 257 + j]);
  EXPECT_EQ(values<int64_t>(run1("Transpose", {input(i64({2, 2}, {1, 2, 3, 4}))})), (std::vector<int64_t>{1, 3, 2, 4}));
  expect_error<ModelError>([&] { infer_shape("Transpose", {input(x)}, attrs({{"perm", ints_attr({0, 1, 1, 2})}})); },
                           "Transpose 'n0': perm [0, 1, 1, 2] is not a permutation of the 4 axes of [2, 3, 5, 7]");
}

// ---- Slice ----

struct SliceCase {
  std::vector<int64_t> starts, ends, axes, steps;
  Shape out;
};

TEST(Slice, ClampingNegativeIndicesAndSteps) {
  const Shape in = {5, 7, 4};
  const Tensor x = iota(in);
  const int64_t big = std::numeric_limits<int64_t>::max(), small = std::numeric_limits<int64_t>::min();
  const std::vector<SliceCase> cases = {
      {{1, 2}, {4, -1}, {}, {}, {3, 4, 4}},                 // axes default to 0..n-1
      {{0}, {big}, {1}, {2}, {5, 4, 4}},                    // huge end clamps
      {{-1}, {small}, {1}, {-1}, {5, 7, 4}},                // full reverse
      {{10}, {1}, {1}, {-2}, {5, 3, 4}},                     // start past the end clamps to dim - 1
      {{3, -1}, {-10, 0}, {-1, 0}, {-1, -3}, {2, 7, 4}},    // negative axes, several negative steps
      {{4}, {2}, {2}, {1}, {5, 7, 0}},                      // empty
      {{-100}, {100}, {0}, {big}, {1, 7, 4}},               // a step beyond the dim takes one element
  };
  for (const SliceCase& c : cases) {
    SCOPED_TRACE("starts " + shape_str(c.starts) + " ends " + shape_str(c.ends) + " axes " + shape_str(c.axes) +
                 " steps " + shape_str(c.steps));
    std::vector<Arg> args = {input(x), constant(shape_tensor(c.starts)), constant(shape_tensor(c.ends))};
    if (!c.axes.empty()) args.push_back(constant(shape_tensor(c.axes)));
    if (!c.steps.empty()) {
      if (c.axes.empty()) args.push_back(omitted());
      args.push_back(constant(shape_tensor(c.steps)));
    }
    const Tensor y = run1("Slice", args);
    ASSERT_EQ(y.shape(), c.out);
    // Reference: walk each axis the Python way.
    std::vector<int64_t> start(3, 0), step(3, 1);
    for (size_t k = 0; k < c.starts.size(); ++k) {
      int64_t axis = c.axes.empty() ? static_cast<int64_t>(k) : c.axes[k];
      if (axis < 0) axis += 3;
      const int64_t dim = in[axis], st = c.steps.empty() ? 1 : c.steps[k];
      int64_t s = c.starts[k] < 0 ? c.starts[k] + dim : c.starts[k];
      s = st > 0 ? std::clamp<int64_t>(s, 0, dim) : std::clamp<int64_t>(s, 0, dim - 1);
      start[axis] = s;
      step[axis] = st;
    }
    for_each_index(y.shape(), [&](const std::vector<int64_t>& o) {
      std::vector<int64_t> i(3);
      for (int d = 0; d < 3; ++d) i[d] = start[d] + o[d] * step[d];
      ASSERT_EQ(y.data<float>()[flat(y.shape(), o)], x.data<float>()[flat(in, i)]);
    });
  }
}

TEST(Slice, Int64AndErrors) {
  const Tensor shape = shape_tensor({1, 3, 224, 224});
  EXPECT_EQ(values<int64_t>(run1("Slice", {input(shape), constant(shape_tensor({-2})), constant(shape_tensor({std::numeric_limits<int64_t>::max()}))})),
            (std::vector<int64_t>{224, 224}));
  const Tensor x = iota({3, 4});
  expect_error<ModelError>(
      [&] { infer_shape("Slice", {input(x), constant(shape_tensor({0})), constant(shape_tensor({1})), omitted(),
                                   constant(shape_tensor({0}))}); },
      "Slice 'n0': steps must be nonzero");
  expect_error<ModelError>(
      [&] { infer_shape("Slice", {input(x), constant(shape_tensor({0, 1})), constant(shape_tensor({1}))}); },
      "starts, ends, axes and steps must have the same length");
  expect_error<UnsupportedOpError>(
      [&] { infer_shape("Slice", {input(x), input(shape_tensor({0})), constant(shape_tensor({1}))}); },
      "Slice 'n0': starts ('in1') must be a constant");
}

// ---- Gather ----

TEST(Gather, AxesNegativeIndicesAndScalarIndex) {
  const Tensor x = iota({3, 4, 5});
  const Tensor idx = i64({2, 2}, {0, -1, 2, 1});
  const Tensor y = run1("Gather", {input(x), constant(idx)}, attrs({{"axis", int_attr(-2)}}));
  ASSERT_EQ(y.shape(), (Shape{3, 2, 2, 5}));
  for_each_index(y.shape(), [&](const std::vector<int64_t>& o) {
    int64_t j = idx.data<int64_t>()[o[1] * 2 + o[2]];
    if (j < 0) j += 4;
    ASSERT_EQ(y.data<float>()[flat(y.shape(), o)], x.data<float>()[flat(x.shape(), {o[0], j, o[3]})]);
  });
  // Scalar index drops the axis: the shape-arithmetic pattern Shape -> Gather(0-d).
  const Tensor dim = run1("Gather", {input(shape_tensor({1, 3, 224})), constant(i64({}, {-1}))});
  EXPECT_EQ(dim.shape(), Shape{});
  EXPECT_EQ(values<int64_t>(dim), (std::vector<int64_t>{224}));
  EXPECT_EQ(values<float>(run1("Gather", {input(iota({4, 2})), input(i32({3}, {3, 0, 3}))})),
            (std::vector<float>{6, 7, 0, 1, 6, 7}));
}

TEST(Gather, OutOfRangeIndexRaises) {
  expect_error<ShapeError>([] { infer_shape("Gather", {input(iota({4, 2})), constant(i64({1}, {4}))}); },
                           "Gather 'n0': index 4 is out of range for axis 0 of [4, 2]");
  // Indices known only at run time are checked by the kernel.
  expect_error<ShapeError>([] { run1("Gather", {input(iota({4, 2})), input(i64({2}, {1, -5}))}); },
                           "Gather 'n0': index -5 is out of range for axis 0 of [4, 2]");
  expect_error<DtypeError>([] { infer_shape("Gather", {input(iota({4, 2})), input(f32({1}, {1}))}); },
                           "input 1 'in1' is float32, expected int64 or int32");
}

// ---- Pad ----

TEST(Pad, ModesOnSmallMatrix) {
  const Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor pads = shape_tensor({1, 2, 0, 1});  // [x1_begin, x2_begin, x1_end, x2_end]
  Tensor y = run1("Pad", {input(x), constant(pads), constant(f32({}, {9}))});
  ASSERT_EQ(y.shape(), (Shape{3, 6}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{9, 9, 9, 9, 9, 9,  //
                                                  9, 9, 1, 2, 3, 9,  //
                                                  9, 9, 4, 5, 6, 9}));
  y = run1("Pad", {input(x), constant(pads)}, attrs({{"mode", string_attr("reflect")}}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{6, 5, 4, 5, 6, 5,  //
                                                  3, 2, 1, 2, 3, 2,  //
                                                  6, 5, 4, 5, 6, 5}));
  y = run1("Pad", {input(x), constant(pads)}, attrs({{"mode", string_attr("edge")}}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{1, 1, 1, 2, 3, 3,  //
                                                  1, 1, 1, 2, 3, 3,  //
                                                  4, 4, 4, 5, 6, 6}));
}

TEST(Pad, NegativePadsAxesAndInt64) {
  const Tensor x = iota({2, 5});
  // Crop one column on the left, pad two on the right (axis -1 only).
  Tensor y = run1("Pad", {input(x), constant(shape_tensor({-1, 2})), omitted(), constant(shape_tensor({-1}))});
  ASSERT_EQ(y.shape(), (Shape{2, 6}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{1, 2, 3, 4, 0, 0, 6, 7, 8, 9, 0, 0}));
  y = run1("Pad", {input(x), constant(shape_tensor({0, -2, 0, -1}))}, attrs({{"mode", string_attr("reflect")}}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{2, 3, 7, 8}));
  const Tensor n = run1("Pad", {input(i64({3}, {7, 8, 9})), constant(shape_tensor({2, 1})), constant(i64({}, {-1}))});
  EXPECT_EQ(values<int64_t>(n), (std::vector<int64_t>{-1, -1, 7, 8, 9, -1}));
}

TEST(Pad, LargeNchwMatchesReference) {
  const Tensor x = random_tensor({2, 3, 13, 129}, 5);
  const Tensor y = run1("Pad", {input(x), constant(shape_tensor({0, 0, 2, 3, 0, 0, 1, 4}))},
                        attrs({{"mode", string_attr("reflect")}}));
  ASSERT_EQ(y.shape(), (Shape{2, 3, 16, 136}));
  auto reflect = [](int64_t i, int64_t dim) { return i < 0 ? -i : i >= dim ? 2 * (dim - 1) - i : i; };
  for_each_index(y.shape(), [&](const std::vector<int64_t>& o) {
    const std::vector<int64_t> i = {o[0], o[1], reflect(o[2] - 2, 13), reflect(o[3] - 3, 129)};
    ASSERT_EQ(y.data<float>()[flat(y.shape(), o)], x.data<float>()[flat(x.shape(), i)]);
  });
}

TEST(Pad, Errors) {
  const Tensor x = iota({2, 3});
  expect_error<ModelError>([&] { infer_shape("Pad", {input(x), constant(shape_tensor({1, 1}))}); },
                           "Pad 'n0': pads has 2 values, expected 4 for input [2, 3]");
  expect_error<ShapeError>(
      [&] { infer_shape("Pad", {input(x), constant(shape_tensor({0, 3, 0, 0}))}, attrs({{"mode", string_attr("reflect")}})); },
      "reflect padding of 3 on axis 1 of [2, 3] needs a dim larger than the padding");
  expect_error<UnsupportedOpError>(
      [&] { infer_shape("Pad", {input(x), constant(shape_tensor({0, 0, 0, 0}))}, attrs({{"mode", string_attr("wrap")}})); },
      "Pad 'n0': mode 'wrap' is not supported");
  expect_error<ShapeError>([&] { infer_shape("Pad", {input(x), constant(shape_tensor({0, -2, 0, -2}))}); },
                           "crop more than axis 1");
}

// ---- Shape, Size, ConstantOfShape, Expand, Range ----

TEST(ShapeOps, ShapeWithStartEndAndSize) {
  const Tensor x = iota({2, 3, 5, 7});
  EXPECT_EQ(values<int64_t>(run1("Shape", {input(x)})), (std::vector<int64_t>{2, 3, 5, 7}));
  EXPECT_EQ(values<int64_t>(run1("Shape", {input(x)}, attrs({{"start", int_attr(1)}, {"end", int_attr(-1)}}))),
            (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(values<int64_t>(run1("Shape", {input(x)}, attrs({{"start", int_attr(-2)}, {"end", int_attr(100)}}))),
            (std::vector<int64_t>{5, 7}));
  EXPECT_EQ(infer_shape("Shape", {input(x)}, attrs({{"start", int_attr(3)}, {"end", int_attr(1)}})), (Shape{0}));
  const Tensor size = run1("Size", {input(x)});
  EXPECT_EQ(size.shape(), Shape{});
  EXPECT_EQ(values<int64_t>(size), (std::vector<int64_t>{210}));
}

TEST(ShapeOps, ConstantOfShape) {
  Tensor y = run1("ConstantOfShape", {constant(shape_tensor({2, 3}))});
  ASSERT_EQ(y.dtype(), DType::Float32);
  EXPECT_EQ(values<float>(y), std::vector<float>(6, 0.f));
  y = run1("ConstantOfShape", {constant(shape_tensor({4}))}, attrs({{"value", Attribute::make_tensor(i64({1}, {-7}))}}));
  ASSERT_EQ(y.dtype(), DType::Int64);
  EXPECT_EQ(values<int64_t>(y), std::vector<int64_t>(4, -7));
  EXPECT_EQ(infer_shape("ConstantOfShape", {constant(shape_tensor({}))}), Shape{});
  expect_error<UnsupportedOpError>([] { infer_shape("ConstantOfShape", {input(shape_tensor({2}))}); },
                                   "ConstantOfShape 'n0': shape ('in0') must be a constant");
}

TEST(ShapeOps, ExpandBroadcastsBothWays) {
  const Tensor x = f32({3, 1}, {1, 2, 3});
  Tensor y = run1("Expand", {input(x), constant(shape_tensor({2, 1, 4}))});
  ASSERT_EQ(y.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,  //
                                                  1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}));
  EXPECT_EQ(infer_shape("Expand", {input(x), constant(shape_tensor({1}))}), (Shape{3, 1}));
  EXPECT_EQ(values<int64_t>(run1("Expand", {input(i64({}, {5})), constant(shape_tensor({3}))})),
            (std::vector<int64_t>{5, 5, 5}));
  expect_error<ShapeError>([&] { infer_shape("Expand", {input(x), constant(shape_tensor({2, 2}))}); },
                           "Expand 'n0': cannot expand [3, 1] ('in0') to [2, 2]");
}

TEST(ShapeOps, Range) {
  EXPECT_EQ(values<int64_t>(run1("Range", {constant(i64({}, {1})), constant(i64({}, {10})), constant(i64({}, {3}))})),
            (std::vector<int64_t>{1, 4, 7}));
  EXPECT_EQ(values<int64_t>(run1("Range", {constant(i64({}, {5})), constant(i64({}, {-2})), constant(i64({}, {-2}))})),
            (std::vector<int64_t>{5, 3, 1, -1}));
  EXPECT_EQ(infer_shape("Range", {constant(i64({}, {5})), constant(i64({}, {6})), constant(i64({}, {-1}))}), (Shape{0}));
  expect_near(run1("Range", {constant(f32({}, {0.5f})), constant(f32({}, {2.f})), constant(f32({}, {0.5f}))}),
              f32({3}, {0.5f, 1.f, 1.5f}));
  expect_error<ModelError>(
      [] { infer_shape("Range", {constant(i64({}, {0})), constant(i64({}, {4})), constant(i64({}, {0}))}); },
      "Range 'n0': delta must be nonzero");
  expect_error<UnsupportedOpError>(
      [] { infer_shape("Range", {constant(i64({}, {0})), input(i64({}, {4})), constant(i64({}, {1}))}); },
      "Range 'n0': limit ('in1') must be a constant");
}

// ---- Constant folding through these kernels ----

// Shape -> Gather(0) -> Unsqueeze -> Concat(with -1) -> Reshape: the exported flatten of a CNN head.
TEST(ConstantFolding, ShapeArithmeticChainResolves) {
  Graph g;
  const int x = g.add_value("x", DType::Float32);
  g.value(x).shape = {4, 3, 5};
  g.value(x).has_shape = true;
  g.inputs().push_back(x);
  auto node = [&](const char* op, std::vector<int> ins, const char* out, Attributes a = {}) {
    Node n;
    n.op_type = op;
    n.name = out;
    n.inputs = std::move(ins);
    n.attrs = std::move(a);
    n.outputs = {g.add_value(out)};
    g.add_node(std::move(n));
    return g.nodes().back().outputs[0];
  };
  const int shape = node("Shape", {x}, "shape");
  const int batch = node("Gather", {shape, g.add_constant("zero", i64({}, {0}))}, "batch");
  const int batch1 = node("Unsqueeze", {batch, g.add_constant("axes", shape_tensor({0}))}, "batch1");
  const int target = node("Concat", {batch1, g.add_constant("minus1", shape_tensor({-1}))}, "target",
                          attrs({{"axis", int_attr(0)}}));
  const int y = node("Reshape", {x, target}, "y");
  g.outputs().push_back(y);
  fold_constants(g, cpu::node_evaluator());
  ASSERT_EQ(g.nodes().size(), 1u);
  EXPECT_EQ(g.nodes()[0].op_type, "Reshape");
  ASSERT_TRUE(g.value(target).is_constant());
  EXPECT_EQ(values<int64_t>(g.value(target).constant), (std::vector<int64_t>{4, -1}));
  EXPECT_EQ(g.value(y).shape, (Shape{4, 15}));
}

}  // namespace
}  // namespace metalnn::test
