// Each pass alone: it rewrites the pattern it is for, leaves everything else, and keeps the numbers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "core/ops/qfused.h"
#include "core/passes/passes.h"
#include "cpu/cpu_executable.h"
#include "cpu/evaluator.h"
#include "one_node.h"

using namespace metalnn;
using metalnn::test::random_tensor;

namespace {

Tensor int_tensor(std::vector<int64_t> values) {
  Tensor t = Tensor::empty(DType::Int64, {static_cast<int64_t>(values.size())});
  for (size_t i = 0; i < values.size(); ++i) t.data<int64_t>()[i] = values[i];
  return t;
}

int add_input(Graph& g, const std::string& name, Shape shape) {
  int v = g.add_value(name, DType::Float32);
  g.value(v).shape = std::move(shape);
  g.value(v).has_shape = true;
  g.inputs().push_back(v);
  return v;
}

void add_node(Graph& g, const std::string& op, const std::string& name, std::vector<std::string> ins,
              std::vector<std::string> outs, Attributes attrs = {}) {
  Node n;
  n.op_type = op;
  n.name = name;
  n.attrs = std::move(attrs);
  for (auto& s : ins) n.inputs.push_back(g.value_id(s));
  for (auto& s : outs) n.outputs.push_back(g.value_id(s));
  g.add_node(std::move(n));
}

std::vector<Tensor> run_unoptimized(Graph g, const std::vector<Tensor>& inputs) {
  g.sort_topologically();
  g.infer_shapes();
  return cpu::CpuExecutable(g).run(inputs);
}

std::vector<Tensor> run_optimized(const Graph& g, const std::vector<Tensor>& inputs) {
  return cpu::CpuExecutable(g).run(inputs);
}

void expect_close(const Tensor& a, const Tensor& b, float tol = 1e-4f) {
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i)
    ASSERT_NEAR(a.data<float>()[i], b.data<float>()[i], tol * (1.f + std::fabs(a.data<float>()[i]))) << "at " << i;
}

int count_ops(const Graph& g, const std::string& op) {
  int n = 0;
  for (const Node& node : g.nodes()) n += node.op_type == op;
  return n;
}

// x -> Conv(w, b) -> y, with 5 output channels over a 7x7 image.
Graph conv_graph(const std::string& conv_out) {
  Graph g;
  add_input(g, "x", {2, 3, 7, 7});
  g.add_constant("w", random_tensor({5, 3, 3, 3}, 1));
  g.add_constant("b", random_tensor({5}, 2));
  Attributes a;
  a.set("pads", Attribute::make_ints({1, 1, 1, 1}));
  add_node(g, "Conv", "conv", {"x", "w", "b"}, {conv_out}, a);
  return g;
}

}  // namespace

TEST(Passes, ConstantFoldingRemovesShapeArithmetic) {
  Graph g;
  add_input(g, "x", {2, 3, 4});
  g.add_constant("zero", int_tensor({0}));
  g.add_constant("minus_one", int_tensor({-1}));
  add_node(g, "Shape", "shape", {"x"}, {"s"});
  add_node(g, "Gather", "batch", {"s", "zero"}, {"n"});
  add_node(g, "Concat", "target", {"n", "minus_one"}, {"target_shape"},
           [] { Attributes a; a.set("axis", Attribute::make_int(0)); return a; }());
  add_node(g, "Reshape", "reshape", {"x", "target_shape"}, {"y"});
  g.outputs().push_back(g.find_value("y"));

  Graph optimized = g;
  optimize(optimized, cpu::node_evaluator());
  ASSERT_EQ(optimized.nodes().size(), 1u);
  EXPECT_EQ(optimized.nodes()[0].op_type, "Reshape");
  EXPECT_EQ(optimized.value(optimized.outputs()[0]).shape, (Shape{2, 12}));
  Tensor x = random_tensor({2, 3, 4}, 3);
  expect_close(run_optimized(optimized, {x})[0], x.reshaped({2, 12}));
}

TEST(Passes, BatchNormFoldsIntoConv) {
  Graph g = conv_graph("c");
  g.add_constant("scale", random_tensor({5}, 4, 0.5f, 2.f));
  g.add_constant("shift", random_tensor({5}, 5));
  g.add_constant("mean", random_tensor({5}, 6));
  g.add_constant("var", random_tensor({5}, 7, 0.5f, 2.f));
  add_node(g, "BatchNormalization", "bn", {"c", "scale", "shift", "mean", "var"}, {"y"});
  g.outputs().push_back(g.find_value("y"));

  Graph optimized = g;
  optimize(optimized, cpu::node_evaluator());
  EXPECT_EQ(count_ops(optimized, "BatchNormalization"), 0);
  EXPECT_EQ(count_ops(optimized, "Conv"), 1);
  Tensor x = random_tensor({2, 3, 7, 7}, 8);
  expect_close(run_optimized(optimized, {x})[0], run_unoptimized(g, {x})[0]);
}

TEST(Passes, ActivationFusesIntoConv) {
  Graph g = conv_graph("c");
  add_node(g, "Relu", "relu", {"c"}, {"y"});
  g.outputs().push_back(g.find_value("y"));
  Graph optimized = g;
  optimize(optimized, cpu::node_evaluator());
  ASSERT_EQ(optimized.nodes().size(), 1u);
  EXPECT_EQ(optimized.nodes()[0].attrs.get_string("_activation", ""), "Relu");
  Tensor x = random_tensor({2, 3, 7, 7}, 9);
  expect_close(run_optimized(optimized, {x})[0], run_unoptimized(g, {x})[0]);
}

TEST(Passes, GeluFusesIntoConvInBothForms) {
  for (const char* approximate : {"none", "tanh"}) {
    Graph g = conv_graph("c");
    add_node(g, "Gelu", "gelu", {"c"}, {"y"});
    g.nodes().back().attrs.set("approximate", Attribute::make_string(approximate));
    g.outputs().push_back(g.find_value("y"));
    Graph optimized = g;
    optimize(optimized, cpu::node_evaluator());
    ASSERT_EQ(optimized.nodes().size(), 1u);
    EXPECT_EQ(optimized.nodes()[0].attrs.get_string("_activation", ""),
              std::string(approximate) == "tanh" ? "GeluTanh" : "Gelu");
    Tensor x = random_tensor({2, 3, 7, 7}, 10);
    expect_close(run_optimized(optimized, {x})[0], run_unoptimized(g, {x})[0]);
  }
}

TEST(Passes, ResidualAndReluFuseIntoConv) {
  // The residual is computed after the conv in the node order: the fused conv must run where the Add was.
  Graph g = conv_graph("c");
  add_input(g, "z", {2, 5, 7, 7});
  add_node(g, "Sigmoid", "sigmoid", {"z"}, {"r"});
  add_node(g, "Add", "add", {"r", "c"}, {"s"});
  add_node(g, "Relu", "relu", {"s"}, {"y"});
  g.outputs().push_back(g.find_value("y"));
  Graph optimized = g;
  optimize(optimized, cpu::node_evaluator());
  ASSERT_EQ(optimized.nodes().size(), 2u);
  const Node& conv = optimized.nodes()[1];
  EXPECT_EQ(conv.op_type, "Conv");
  EXPECT_EQ(conv.attrs.get_int("_residual", 0), 1);
  EXPECT_EQ(conv.attrs.get_string("_activation", ""), "Relu");
  Tensor x = random_tensor({2, 3, 7, 7}, 9), z = random_tensor({2, 5, 7, 7}, 10);
  expect_close(run_optimized(optimized, {x, z})[0], run_unoptimized(g, {x, z})[0]);
}

TEST(Passes, ResidualStaysAfterTheConvActivation) {
  Graph g = conv_graph("c");
  add_input(g, "r", {2, 5, 7, 7});
  add_node(g, "Relu", "relu", {"c"}, {"a"});
  add_node(g, "Add", "add", {"a", "r"}, {"y"});
  g.outputs().push_back(g.find_value("y"));
  optimize(g, cpu::node_evaluator());
  EXPECT_EQ(count_ops(g, "Add"), 1);
}

TEST(Passes, ActivationStaysWhenTheProductIsAGraphOutput) {
  Graph g = conv_graph("c");
  add_node(g, "Relu", "relu", {"c"}, {"y"});
  g.outputs().push_back(g.find_value("y"));
  g.outputs().push_back(g.find_value("c"));
  optimize(g, cpu::node_evaluator());
  EXPECT_EQ(count_ops(g, "Relu"), 1);
}

TEST(Passes, SiluBecomesSwishFusedIntoConv) {
  Graph g = conv_graph("c");
  add_node(g, "Sigmoid", "sigmoid", {"c"}, {"s"});
  add_node(g, "Mul", "mul", {"s", "c"}, {"y"});  // the gate first, as some exporters write it
  g.outputs().push_back(g.find_value("y"));
  Graph optimized = g;
  optimize(optimized, cpu::node_evaluator());
  ASSERT_EQ(optimized.nodes().size(), 1u);
  EXPECT_EQ(optimized.nodes()[0].attrs.get_string("_activation", ""), "Swish");
  Tensor x = random_tensor({2, 3, 7, 7}, 9);
  expect_close(run_optimized(optimized, {x})[0], run_unoptimized(g, {x})[0]);
}

TEST(Passes, ScaledSwishKeepsItsAlpha) {
  Graph g;
  add_input(g, "x", {3, 37});
  Tensor k = Tensor::empty(DType::Float32, {});
  k.data<float>()[0] = 1.702f;
  g.add_constant("k", std::move(k));
  add_node(g, "Mul", "scale", {"x", "k"}, {"t"});
  add_node(g, "Sigmoid", "sigmoid", {"t"}, {"s"});
  add_node(g, "Mul", "mul", {"x", "s"}, {"y"});
  g.outputs().push_back(g.find_value("y"));
  Graph optimized = g;
  optimize(optimized, cpu::node_evaluator());
  ASSERT_EQ(optimized.nodes().size(), 1u);
  EXPECT_EQ(optimized.nodes()[0].op_type, "Swish");
  EXPECT_FLOAT_EQ(optimized.nodes()[0].attrs.get_float("alpha", 0.f), 1.702f);
  Tensor x = random_tensor({3, 37}, 4);
  expect_close(run_optimized(optimized, {x})[0], run_unoptimized(g, {x})[0], 1e-6f);
}

TEST(Passes, SwishNeedsTheGateOfTheSameValue) {
  Graph g;
  add_input(g, "x", {3, 8});
  add_input(g, "z", {3, 8});
  add_node(g, "Sigmoid", "sigmoid", {"z"}, {"s"});
  add_node(g, "Mul", "mul", {"x", "s"}, {"y"});  // a GLU-like gate of another value
  g.outputs().push_back(g.find_value("y"));
  g.outputs().push_back(g.find_value("s"));
  optimize(g, cpu::node_evaluator());
  EXPECT_EQ(count_ops(g, "Swish"), 0);
  EXPECT_EQ(count_ops(g, "Sigmoid"), 1);
}

TEST(Passes, FoldWeightsLetsGoOfTheOriginal) {
  Graph g;
  add_input(g, "x", {-1, 6});  // a free batch: no shape is known yet
  g.add_constant("w", random_tensor({5, 6}, 3));
  Attributes perm;
  perm.set("perm", Attribute::make_ints({1, 0}));
  add_node(g, "Transpose", "wt", {"w"}, {"w_t"}, perm);
  add_node(g, "MatMul", "mm", {"x", "w_t"}, {"y"});
  g.outputs().push_back(g.find_value("y"));
  const Tensor original = g.value(g.find_value("w")).constant;
  fold_weights(g, cpu::node_evaluator());
  ASSERT_EQ(g.nodes().size(), 1u);
  EXPECT_EQ(g.nodes()[0].op_type, "MatMul");
  EXPECT_FALSE(g.value(g.find_value("w")).is_constant());  // nothing reads it any more
  const Tensor& folded = g.value(g.find_value("w_t")).constant;
  ASSERT_EQ(folded.shape(), (Shape{6, 5}));
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 5; ++j) EXPECT_EQ(folded.data<float>()[i * 5 + j], original.data<float>()[j * 6 + i]);
}

TEST(Passes, FoldWeightsKeepsInt8WeightDequantize) {
  Graph g;
  add_input(g, "x", {2, 4});
  Tensor q = Tensor::empty(DType::Int8, {4, 3});
  Tensor scale = Tensor::empty(DType::Float32, {});
  scale.data<float>()[0] = 0.5f;
  g.add_constant("q", std::move(q));
  g.add_constant("s", std::move(scale));
  add_node(g, "DequantizeLinear", "dq", {"q", "s"}, {"w"});
  add_node(g, "MatMul", "mm", {"x", "w"}, {"y"});
  g.outputs().push_back(g.find_value("y"));
  fold_weights(g, cpu::node_evaluator());
  EXPECT_EQ(count_ops(g, "DequantizeLinear"), 1);
}

TEST(Passes, BiasFusesIntoMatMul) {
  Graph g;
  add_input(g, "x", {2, 5, 13});
  g.add_constant("w", random_tensor({13, 7}, 10));
  g.add_constant("bias", random_tensor({7}, 11));
  add_node(g, "MatMul", "mm", {"x", "w"}, {"m"});
  add_node(g, "Add", "add", {"m", "bias"}, {"y"});
  g.outputs().push_back(g.find_value("y"));
  Graph optimized = g;
  optimize(optimized, cpu::node_evaluator());
  ASSERT_EQ(optimized.nodes().size(), 1u);
  EXPECT_EQ(optimized.nodes()[0].inputs.size(), 3u);
  Tensor x = random_tensor({2, 5, 13}, 12);
  expect_close(run_optimized(optimized, {x})[0], run_unoptimized(g, {x})[0]);
}

// x [2, 3, 5, 13] -> MatMul(w [13, 7], bias) -> [Transpose to channels first] -> Mul(s) -> y.
Graph scaled_matmul_graph(bool transpose, Shape scale_shape, const std::string& activation = "") {
  Graph g;
  add_input(g, "x", {2, 3, 5, 13});
  g.add_constant("w", random_tensor({13, 7}, 20));
  g.add_constant("bias", random_tensor({7}, 21));
  int64_t numel = 1;
  for (int64_t d : scale_shape) numel *= d;
  g.add_constant("s", random_tensor({numel}, 22).reshaped(scale_shape));
  add_node(g, "MatMul", "mm", {"x", "w"}, {"m"});
  add_node(g, "Add", "add", {"m", "bias"}, {"mb"});
  std::string v = "mb";
  if (!activation.empty()) add_node(g, activation, "act", {v}, {"a"}), v = "a";
  if (transpose) {
    Attributes a;
    a.set("perm", Attribute::make_ints({0, 3, 1, 2}));
    add_node(g, "Transpose", "t", {v}, {"tr"}, a);
    v = "tr";
  }
  add_node(g, "Mul", "mul", {"s", v}, {"y"});
  g.outputs().push_back(g.find_value("y"));
  return g;
}

TEST(Passes, ChannelScaleFoldsIntoMatMulThroughATranspose) {
  struct Case {
    bool transpose;
    Shape scale;
    std::string activation;
    bool folds;
  };
  for (const Case& c : {Case{true, {7, 1, 1}, "", true}, Case{false, {7}, "", true}, Case{false, {1, 1, 7}, "", true},
                        Case{true, {3, 1}, "", false}, Case{false, {5, 1}, "", false},
                        Case{true, {7, 1, 1}, "Relu", false}}) {
    Graph g = scaled_matmul_graph(c.transpose, c.scale, c.activation);
    Graph optimized = g;
    optimize(optimized, cpu::node_evaluator());
    EXPECT_EQ(count_ops(optimized, "Mul"), c.folds ? 0 : 1) << c.transpose << " " << c.scale.size();
    Tensor x = random_tensor({2, 3, 5, 13}, 23);
    expect_close(run_optimized(optimized, {x})[0], run_unoptimized(g, {x})[0]);
  }
}

Tensor scalar(float v) {
  Tensor t = Tensor::empty(DType::Float32, {});
  t.data<float>()[0] = v;
  return t;
}

TEST(Passes, GeluFusesFromErfAndTanhForms) {
  Graph g;
  add_input(g, "x", {3, 11});
  g.add_constant("sqrt2", scalar(std::sqrt(2.f)));
  g.add_constant("one", scalar(1.f));
  g.add_constant("half", scalar(0.5f));
  g.add_constant("three", scalar(3.f));
  g.add_constant("k", scalar(0.044715f));
  g.add_constant("s", scalar(std::sqrt(2.f / 3.14159265f)));
  add_node(g, "Div", "div", {"x", "sqrt2"}, {"u"});
  add_node(g, "Erf", "erf", {"u"}, {"e"});
  add_node(g, "Add", "add", {"e", "one"}, {"a"});
  add_node(g, "Mul", "mul", {"x", "a"}, {"p"});
  add_node(g, "Mul", "mul_half", {"p", "half"}, {"y"});
  add_node(g, "Mul", "t_half", {"y", "half"}, {"h"});  // the tanh form applied to y
  add_node(g, "Pow", "t_pow", {"y", "three"}, {"c"});
  add_node(g, "Mul", "t_k", {"c", "k"}, {"ck"});
  add_node(g, "Add", "t_add", {"y", "ck"}, {"w"});
  add_node(g, "Mul", "t_s", {"w", "s"}, {"v"});
  add_node(g, "Tanh", "t_tanh", {"v"}, {"t"});
  add_node(g, "Add", "t_one", {"t", "one"}, {"b"});
  add_node(g, "Mul", "t_out", {"h", "b"}, {"z"});
  g.outputs().push_back(g.find_value("z"));
  Graph optimized = g;
  optimize(optimized, cpu::node_evaluator());
  ASSERT_EQ(optimized.nodes().size(), 2u);
  EXPECT_EQ(count_ops(optimized, "Gelu"), 2);
  EXPECT_EQ(optimized.nodes()[1].attrs.get_string("approximate", "none"), "tanh");
  Tensor x = random_tensor({3, 11}, 20);
  expect_close(run_optimized(optimized, {x})[0], run_unoptimized(g, {x})[0]);
}

TEST(Passes, AttentionFusesFromScaledQueryAndKey) {
  Graph g;
  add_input(g, "q", {2, 3, 5, 4});
  add_input(g, "kt", {2, 3, 4, 7});
  add_input(g, "v", {2, 3, 7, 6});
  g.add_constant("root", scalar(0.7f));
  g.add_constant("mask", random_tensor({1, 1, 5, 7}, 21));
  add_node(g, "Mul", "mq", {"q", "root"}, {"qs"});
  add_node(g, "Mul", "mk", {"kt", "root"}, {"ks"});
  add_node(g, "MatMul", "qk", {"qs", "ks"}, {"s"});
  add_node(g, "Add", "add", {"s", "mask"}, {"z"});
  Attributes axis;
  axis.set("axis", Attribute::make_int(-1));
  add_node(g, "Softmax", "softmax", {"z"}, {"p"}, axis);
  add_node(g, "MatMul", "pv", {"p", "v"}, {"y"});
  g.outputs().push_back(g.find_value("y"));
  Graph optimized = g;
  optimize(optimized, cpu::node_evaluator());
  ASSERT_EQ(optimized.nodes().size(), 1u);
  EXPECT_EQ(optimized.nodes()[0].op_type, "FusedAttention");
  EXPECT_NEAR(optimized.nodes()[0].attrs.get_float("scale", 0.f), 0.49f, 1e-6f);
  std::vector<Tensor> in = {random_tensor({2, 3, 5, 4}, 22), random_tensor({2, 3, 4, 7}, 23),
                            random_tensor({2, 3, 7, 6}, 24)};
  expect_close(run_optimized(optimized, in)[0], run_unoptimized(g, in)[0]);
}

TEST(Passes, CastToItsOwnDtypeDisappearsAndAttentionFusesThroughIt) {
  // Eager attention as Llama-family exporters write it: softmax(..., dtype=float32).to(float32).
  Graph g;
  add_input(g, "q", {2, 3, 5, 4});
  add_input(g, "kt", {2, 3, 4, 7});
  add_input(g, "v", {2, 3, 7, 6});
  add_node(g, "MatMul", "qk", {"q", "kt"}, {"s"});
  Attributes axis, to_float, to_int;
  axis.set("axis", Attribute::make_int(-1));
  to_float.set("to", Attribute::make_int(1));
  to_int.set("to", Attribute::make_int(6));
  add_node(g, "Softmax", "softmax", {"s"}, {"p"}, axis);
  add_node(g, "Cast", "c1", {"p"}, {"p1"}, to_float);
  add_node(g, "Cast", "c2", {"p1"}, {"p2"}, to_float);
  add_node(g, "MatMul", "pv", {"p2", "v"}, {"y"});
  add_node(g, "Cast", "ints", {"y"}, {"yi"}, to_int);  // a real conversion stays
  g.outputs().push_back(g.find_value("yi"));
  g.sort_topologically();
  g.infer_shapes();
  Graph optimized = g;
  optimize(optimized, cpu::node_evaluator());
  ASSERT_EQ(optimized.nodes().size(), 2u);
  EXPECT_EQ(optimized.nodes()[0].op_type, "FusedAttention");
  EXPECT_EQ(optimized.nodes()[1].op_type, "Cast");
  std::vector<Tensor> in = {random_tensor({2, 3, 5, 4}, 25), random_tensor({2, 3, 4, 7}, 26),
                            random_tensor({2, 3, 7, 6}, 27)};
  const Tensor a = run_optimized(optimized, in)[0], b = run_unoptimized(g, in)[0];
  ASSERT_EQ(a.numel(), b.numel());
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_EQ(a.data<int32_t>()[i], b.data<int32_t>()[i]) << i;
}

TEST(Passes, IdentityAndDropoutDisappear) {
  Graph g;
  add_input(g, "x", {3, 7});
  add_node(g, "Identity", "id", {"x"}, {"a"});
  add_node(g, "Dropout", "drop", {"a"}, {"b"});
  add_node(g, "Relu", "relu", {"b"}, {"y"});
  g.outputs().push_back(g.find_value("y"));
  Graph optimized = g;
  optimize(optimized, cpu::node_evaluator());
  ASSERT_EQ(optimized.nodes().size(), 1u);
  EXPECT_EQ(optimized.nodes()[0].op_type, "Relu");
  Tensor x = random_tensor({3, 7}, 13);
  expect_close(run_optimized(optimized, {x})[0], run_unoptimized(g, {x})[0]);
}

namespace {

Tensor scalar_tensor(DType t, double v) {
  Tensor s = Tensor::empty(t, {});
  if (t == DType::Float32) s.data<float>()[0] = float(v);
  if (t == DType::UInt8) s.data<uint8_t>()[0] = uint8_t(v);
  if (t == DType::Int8) s.data<int8_t>()[0] = int8_t(v);
  return s;
}

// uint8 x -> DequantizeLinear -> Conv(DequantizeLinear(int8 w, per channel), b) -> Relu -> QuantizeLinear.
Graph qdq_conv_graph(int8_t weight_zero) {
  Graph g;
  int x = g.add_value("x", DType::UInt8);
  g.value(x).shape = {2, 3, 7, 7};
  g.value(x).has_shape = true;
  g.inputs().push_back(x);
  Tensor w = Tensor::empty(DType::Int8, {5, 3, 3, 3});
  for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = int8_t((i * 37) % 255 - 127);
  Tensor ws = Tensor::empty(DType::Float32, {5}), wz = Tensor::empty(DType::Int8, {5});
  for (int i = 0; i < 5; ++i) {
    ws.data<float>()[i] = 0.01f * float(i + 1);
    wz.data<int8_t>()[i] = i == 2 ? weight_zero : 0;
  }
  g.add_constant("w", std::move(w));
  g.add_constant("w_scale", std::move(ws));
  g.add_constant("w_zero", std::move(wz));
  g.add_constant("x_scale", scalar_tensor(DType::Float32, 0.05));
  g.add_constant("x_zero", scalar_tensor(DType::UInt8, 128));
  g.add_constant("y_scale", scalar_tensor(DType::Float32, 0.2));
  g.add_constant("y_zero", scalar_tensor(DType::UInt8, 3));
  g.add_constant("b", random_tensor({5}, 2));
  Attributes axis0, pads;
  axis0.set("axis", Attribute::make_int(0));
  pads.set("pads", Attribute::make_ints({1, 1, 1, 1}));
  add_node(g, "DequantizeLinear", "dq_x", {"x", "x_scale", "x_zero"}, {"xf"});
  add_node(g, "DequantizeLinear", "dq_w", {"w", "w_scale", "w_zero"}, {"wf"}, axis0);
  add_node(g, "Conv", "conv", {"xf", "wf", "b"}, {"c"}, pads);
  add_node(g, "Relu", "relu", {"c"}, {"r"});
  add_node(g, "QuantizeLinear", "q", {"r", "y_scale", "y_zero"}, {"y"});
  g.outputs().push_back(g.find_value("y"));
  return g;
}

// A branch reading the enclosing graph's "x" (its one input) and returning `op`(x).
std::shared_ptr<const Graph> unary_branch(const std::string& op) {
  auto b = std::make_shared<Graph>();
  b->inputs().push_back(b->add_value("x"));
  add_node(*b, op, op, {"x"}, {"r"});
  b->outputs().push_back(b->find_value("r"));
  return b;
}

// y = If(x.shape[0] > 2) { Relu(x) } else { Neg(x) }.
Graph if_on_rows(int64_t rows) {
  Graph g;
  add_input(g, "x", {rows, 3});
  g.add_constant("zero", int_tensor({0}));
  g.add_constant("two", int_tensor({2}));
  add_node(g, "Shape", "shape", {"x"}, {"s"});
  add_node(g, "Gather", "rows", {"s", "zero"}, {"n"});
  add_node(g, "Greater", "more", {"n", "two"}, {"c"});
  Attributes a;
  a.set("then_branch", Attribute::make_graph(unary_branch("Relu")));
  a.set("else_branch", Attribute::make_graph(unary_branch("Neg")));
  add_node(g, "If", "if", {"c", "x"}, {"y"}, a);
  g.outputs().push_back(g.find_value("y"));
  return g;
}

Tensor quantized_input() {
  Tensor x = Tensor::empty(DType::UInt8, {2, 3, 7, 7});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<uint8_t>()[i] = uint8_t((i * 91) % 256);
  return x;
}

// Differences of two quantized outputs in steps: every element within one.
void expect_within_one_step(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i)
    ASSERT_LE(std::abs(int(a.data<uint8_t>()[i]) - int(b.data<uint8_t>()[i])), 1) << "at " << i;
}

}  // namespace

TEST(Passes, QuantizedConvReplacesDequantizeConvQuantize) {
  Graph g = qdq_conv_graph(0);
  Graph optimized = g;
  optimize(optimized, cpu::node_evaluator());
  ASSERT_EQ(optimized.nodes().size(), 1u);
  const Node& n = optimized.nodes()[0];
  EXPECT_EQ(n.op_type, "QuantizedConv");
  EXPECT_EQ(n.attrs.get_string("_activation", ""), "Relu");
  EXPECT_EQ(optimized.value(n.inputs[kQW]).dtype, DType::Int8);  // the weights stay int8
  const Tensor x = quantized_input();
  expect_within_one_step(run_optimized(optimized, {x})[0], run_unoptimized(g, {x})[0]);
}

TEST(Passes, QuantizedConvNeedsZeroWeightZeroPoints) {
  Graph g = qdq_conv_graph(5);
  Graph optimized = g;
  optimize(optimized, cpu::node_evaluator());
  EXPECT_EQ(count_ops(optimized, "QuantizedConv"), 0);
  EXPECT_EQ(count_ops(optimized, "Conv"), 1);
  EXPECT_EQ(count_ops(optimized, "QuantizeLinear"), 1);
  const Tensor x = quantized_input();
  expect_within_one_step(run_optimized(optimized, {x})[0], run_unoptimized(g, {x})[0]);
}

TEST(Passes, ConstantFoldingInlinesTheBranchTaken) {
  for (int64_t rows : {2, 3}) {
    Graph g = if_on_rows(rows);
    optimize(g, cpu::node_evaluator());
    EXPECT_EQ(count_ops(g, "If"), 0);
    EXPECT_EQ(count_ops(g, "Relu"), rows > 2 ? 1 : 0);
    EXPECT_EQ(count_ops(g, "Neg"), rows > 2 ? 0 : 1);
    Tensor x = random_tensor({rows, 3}, 7);
    const Tensor y = run_optimized(g, {x})[0];
    for (int64_t i = 0; i < x.numel(); ++i) {
      const float v = x.data<float>()[i];
      EXPECT_EQ(y.data<float>()[i], rows > 2 ? std::max(v, 0.f) : -v);
    }
  }
}

TEST(Passes, ConstantFoldingUnrollsALoop) {
  // acc = x; for i in range(3): acc = acc * acc; scan output: acc at each step.
  auto body = std::make_shared<Graph>();
  for (const char* name : {"i", "c", "acc"}) body->inputs().push_back(body->add_value(name));
  add_node(*body, "Mul", "square", {"acc", "acc"}, {"acc_out"});
  add_node(*body, "Identity", "keep", {"c"}, {"c_out"});
  for (const char* name : {"c_out", "acc_out", "acc_out"}) body->outputs().push_back(body->find_value(name));
  Graph g;
  add_input(g, "x", {4});
  g.add_constant("m", int_tensor({3}).reshaped({}));
  Attributes a;
  a.set("body", Attribute::make_graph(body));
  Node loop;
  loop.op_type = "Loop";
  loop.name = "loop";
  loop.attrs = a;
  loop.inputs = {g.find_value("m"), -1, g.find_value("x")};
  loop.outputs = {g.value_id("y"), g.value_id("steps")};
  g.add_node(std::move(loop));
  g.outputs() = {g.find_value("y"), g.find_value("steps")};
  optimize(g, cpu::node_evaluator());
  EXPECT_EQ(count_ops(g, "Loop"), 0);
  EXPECT_EQ(count_ops(g, "Mul"), 3);
  EXPECT_EQ(g.value(g.outputs()[1]).shape, (Shape{3, 4}));
  Tensor x = random_tensor({4}, 8, 0.5f, 1.5f);
  const std::vector<Tensor> out = run_optimized(g, {x});
  for (int64_t i = 0; i < 4; ++i) {
    const float v = x.data<float>()[i];
    EXPECT_FLOAT_EQ(out[0].data<float>()[i], v * v * v * v * v * v * v * v);
    EXPECT_FLOAT_EQ(out[1].data<float>()[8 + i], out[0].data<float>()[i]);
  }
}
