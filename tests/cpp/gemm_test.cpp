// Gemm and MatMul: shape inference, errors, and the CPU kernels against a direct product
// (transposes, alpha/beta, every C broadcast, batched and broadcast MatMul, 1-D operands, fused bias
// and activation).
#include "cpu/packed_gemm.h"
#include "one_node.h"

namespace metalnn::test {
namespace {

// y[b] = a[b] x b[b] over explicit [batch, m, k] / [batch, k, n] views with per-entry offsets.
float dot(const float* a, int64_t a_step, const float* b, int64_t b_step, int64_t k) {
  double acc = 0;
  for (int64_t i = 0; i < k; ++i) acc += double(a[i * a_step]) * b[i * b_step];
  return float(acc);
}

void check_gemm(int64_t m, int64_t n, int64_t k, bool ta, bool tb, float alpha, float beta, Shape c_shape,
                Activation::Kind act_kind = Activation::Kind::None) {
  SCOPED_TRACE("gemm m=" + std::to_string(m) + " n=" + std::to_string(n) + " ta=" + std::to_string(ta) +
               " tb=" + std::to_string(tb) + " C=" + shape_str(c_shape));
  Tensor a = random_tensor(ta ? Shape{k, m} : Shape{m, k}, 1);
  Tensor b = random_tensor(tb ? Shape{n, k} : Shape{k, n}, 2);
  const bool has_c = c_shape != Shape{-1};
  Tensor c = random_tensor(has_c ? c_shape : Shape{1}, 3);
  OneNode node("Gemm", {input(a), constant(b), has_c ? constant(c) : omitted()},
               attrs({{"transA", int_attr(ta)}, {"transB", int_attr(tb)}, {"alpha", float_attr(alpha)},
                      {"beta", float_attr(beta)}}));
  Activation act;
  act.kind = act_kind;
  act.store(node.node());
  Tensor y = node.run();
  Tensor ref = Tensor::empty(DType::Float32, {m, n});
  const int64_t c_rows = c_shape.size() == 2 ? c_shape[0] : 1, c_cols = c_shape.empty() ? 1 : c_shape.back();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float v = alpha * dot(a.data<float>() + (ta ? i : i * k), ta ? m : 1, b.data<float>() + (tb ? j * k : j),
                            tb ? 1 : n, k);
      if (has_c) v += beta * c.data<float>()[(c_rows == 1 ? 0 : i) * c_cols + (c_cols == 1 ? 0 : j)];
      ref.data<float>()[i * n + j] = reference_activation(v, act);
    }
  expect_near(y, ref);
}

TEST(GemmKernel, TransposesAndBroadcastC) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) check_gemm(7, 13, 5, ta, tb, 1.f, 1.f, {13});
  for (Shape c : {Shape{}, Shape{1}, Shape{13}, Shape{1, 13}, Shape{7, 1}, Shape{7, 13}, Shape{1, 1}, Shape{-1}}) {
    check_gemm(7, 13, 9, false, true, 1.f, 1.f, c);
    check_gemm(7, 13, 9, true, false, 0.5f, -2.f, c);
  }
  check_gemm(1, 13, 129, false, true, 1.f, 1.f, {13}, Activation::Kind::Relu);
  check_gemm(2, 1, 7, false, false, 1.f, 1.f, {1}, Activation::Kind::Sigmoid);
  check_gemm(7, 13, 5, false, false, 1.f, 0.f, {7, 13});
  // Large enough to be split over the pool: by columns, then by rows (ragged blocks, per-block bias).
  check_gemm(3, 1029, 300, false, true, 1.f, 1.f, {1029}, Activation::Kind::Relu);
  check_gemm(517, 9, 129, true, false, 1.f, 1.f, {517, 1});
  check_gemm(517, 9, 129, true, true, 0.5f, -2.f, {517, 9});
}

// One row or one column of C goes through sgemv, split over the pool when large enough.
TEST(GemmKernel, MatrixVectorProducts) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      check_gemm(1, 1000, 1280, ta, tb, 1.f, 1.f, {1000}, Activation::Kind::Relu);
      check_gemm(1, 13, 9, ta, tb, 0.5f, -2.f, {1, 13});
      check_gemm(700, 1, 601, ta, tb, 1.f, 1.f, {700, 1}, Activation::Kind::HardSwish);
      check_gemm(9, 1, 33, ta, tb, 1.7f, 1.f, {1});
      check_gemm(1, 1, 1025, ta, tb, 1.f, 1.f, {});
    }
}

// MatMul reference over right-aligned broadcast shapes, after NumPy's 1-D promotion.
Tensor reference_matmul(const Tensor& a, const Tensor& b, const Shape& out_shape, const float* bias) {
  Shape as = a.shape(), bs = b.shape();
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  const size_t rank = std::max(as.size(), bs.size());
  as.insert(as.begin(), rank - as.size(), 1);
  bs.insert(bs.begin(), rank - bs.size(), 1);
  Tensor y = Tensor::empty(DType::Float32, out_shape);
  const int64_t batches = y.numel() / (m * n);
  for (int64_t e = 0; e < batches; ++e) {
    int64_t rem = e, ao = 0, bo = 0, a_stride = m * k, b_stride = k * n;
    for (size_t d = rank - 2; d-- > 0;) {
      const int64_t dim = std::max(as[d], bs[d]), idx = rem % dim;
      rem /= dim;
      ao += (as[d] == 1 ? 0 : idx) * a_stride;
      bo += (bs[d] == 1 ? 0 : idx) * b_stride;
      a_stride *= as[d];
      b_stride *= bs[d];
    }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        y.data<float>()[(e * m + i) * n + j] =
            dot(a.data<float>() + ao + i * k, 1, b.data<float>() + bo + j, n, k) + (bias ? bias[j] : 0.f);
  }
  return y;
}

void check_matmul(Shape as, Shape bs, const std::string& expected_shape, bool with_bias = false,
                  bool constant_b = true) {
  SCOPED_TRACE("matmul " + shape_str(as) + " x " + shape_str(bs));
  Tensor a = random_tensor(as, 4), b = random_tensor(bs, 5), bias = random_tensor({bs.back()}, 6);
  OneNode node("MatMul", {input(a), constant_b ? constant(b) : input(b), with_bias ? constant(bias) : omitted()});
  Activation act;
  if (with_bias) {
    act.kind = Activation::Kind::LeakyRelu;
    act.alpha = 0.1f;
    act.store(node.node());
  }
  Tensor y = node.run();
  ASSERT_EQ(shape_str(y.shape()), expected_shape);
  Tensor ref = reference_matmul(a, b, y.shape(), with_bias ? bias.data<float>() : nullptr);
  for (int64_t i = 0; i < ref.numel(); ++i) ref.data<float>()[i] = reference_activation(ref.data<float>()[i], act);
  expect_near(y, ref);
}

TEST(MatMulKernel, BatchedAndBroadcast) {
  check_matmul({7, 13}, {13, 5}, "[7, 5]");
  check_matmul({2, 3, 7, 13}, {13, 5}, "[2, 3, 7, 5]");              // one shared B: folded into M
  check_matmul({2, 3, 7, 13}, {2, 3, 13, 5}, "[2, 3, 7, 5]", false, false);
  check_matmul({2, 1, 7, 13}, {3, 13, 5}, "[2, 3, 7, 5]");           // both sides broadcast
  check_matmul({7, 13}, {4, 13, 5}, "[4, 7, 5]");                    // A broadcast over B's batch
  check_matmul({13}, {13, 5}, "[5]");
  check_matmul({13}, {3, 13, 5}, "[3, 5]");
  check_matmul({7, 13}, {13}, "[7]");
  check_matmul({2, 7, 13}, {13}, "[2, 7]");
  check_matmul({13}, {13}, "[]");
  check_matmul({2, 7, 13}, {13, 5}, "[2, 7, 5]", true);              // fused bias + activation
  check_matmul({1, 7, 13}, {2, 13, 5}, "[2, 7, 5]", true);
}

// A constant B is packed for the GEMM kernel chosen when the node is built: every kernel this CPU
// has (and BLAS), ragged register tiles, K over several blocks, C and epilogue.
TEST(GemmKernel, EveryGemmKernel) {
  const cpu::GemmIsa saved = cpu::gemm_isa();
  for (cpu::GemmIsa isa : {cpu::GemmIsa::Blas, cpu::GemmIsa::Avx2, cpu::GemmIsa::Avx512}) {
    if (!cpu::gemm_isa_supported(isa)) continue;
    SCOPED_TRACE("gemm isa " + std::to_string(int(isa)));
    cpu::set_gemm_isa(isa);
    check_gemm(1, 1000, 520, false, true, 1.f, 1.f, {1000}, Activation::Kind::Relu);
    check_gemm(2, 1000, 520, false, true, 1.f, 1.f, {1000}, Activation::Kind::Relu);
    check_gemm(8, 37, 300, false, true, 0.5f, -2.f, {8, 37});
    check_gemm(29, 65, 129, true, false, 1.f, 1.f, {29, 1}, Activation::Kind::HardSwish);
    check_gemm(130, 17, 33, false, false, 1.f, 1.f, {-1});
    check_matmul({2, 3, 7, 129}, {129, 45}, "[2, 3, 7, 45]", true);
    check_matmul({2, 64, 300}, {300, 1600}, "[2, 64, 1600]");
    check_matmul({3, 5, 16}, {2, 3, 16, 20}, "[2, 3, 5, 20]");
  }
  cpu::set_gemm_isa(saved);
}

TEST(GemmSchema, Errors) {
  auto gemm = [](Shape a, Shape b, Shape c, Attributes at = {}) {
    return [=] {
      OneNode("Gemm", {input(Tensor::empty(DType::Float32, a)), constant(Tensor::empty(DType::Float32, b)),
                       c.empty() ? omitted() : constant(Tensor::empty(DType::Float32, c))},
              at)
          .infer();
    };
  };
  expect_error<ShapeError>(gemm({3, 4}, {5, 6}, {}), "Gemm 'n0': A [3, 4] and B [5, 6] disagree on K: 4 vs 5", true);
  expect_error<ShapeError>(gemm({3, 4}, {6, 5}, {}, attrs({{"transB", int_attr(1)}})), "disagree on K: 4 vs 5");
  expect_error<ShapeError>(gemm({3, 4}, {4, 6}, {3, 2}), "C [3, 2] does not broadcast to [3, 6]");
  expect_error<ShapeError>(gemm({3, 4}, {4, 6}, {2, 3, 6}), "does not broadcast");
  expect_error<ShapeError>(gemm({3, 4, 1}, {4, 6}, {}), "A 'in0' has 3 dims, expected 2");
  EXPECT_EQ(shape_str(OneNode("Gemm", {input(Tensor::empty(DType::Float32, {4, 3})), constant(Tensor::empty(DType::Float32, {6, 4}))},
                              attrs({{"transA", int_attr(1)}, {"transB", int_attr(1)}}))
                          .output_shape()),
            "[3, 6]");
}

TEST(MatMulSchema, Errors) {
  auto matmul = [](Shape a, Shape b, Shape bias = {}) {
    return [=] {
      OneNode("MatMul", {input(Tensor::empty(DType::Float32, a)), constant(Tensor::empty(DType::Float32, b)),
                         bias.empty() ? omitted() : constant(Tensor::empty(DType::Float32, bias))})
          .infer();
    };
  };
  expect_error<ShapeError>(matmul({2, 7, 13}, {12, 5}), "MatMul 'n0': A [2, 7, 13] and B [12, 5] disagree on K: 13 vs 12");
  expect_error<ShapeError>(matmul({2, 7, 13}, {3, 13, 5}), "batch dims of A [2, 7, 13] and B [3, 13, 5] do not broadcast");
  expect_error<ShapeError>(matmul({7, 13}, {13, 5}, {7}), "bias has shape [7], expected [5]");
  expect_error<ModelError>(matmul({7, 13}, {13}, {1}), "a bias input needs a matrix B");
  expect_error<ShapeError>(matmul({}, {13, 5}), "operands must have at least 1 dim");
  expect_error<DtypeError>(
      [] {
        OneNode("MatMul", {input(Tensor::empty(DType::Float16, {2, 3})), input(Tensor::empty(DType::Float32, {3, 2}))}).infer();
      },
      "input 0 'in0' is float16, expected float32");
}

}  // namespace
}  // namespace metalnn::test
