// Each test kernel on metal-sim against a reference computed here, in forward and reverse thread order.
#include <cmath>

#include "sim_test_util.h"

namespace metalnn::gpu::testing {
namespace {

struct GemmShape {
  uint32_t m, n, k;
};

class SimKernels : public ::testing::TestWithParam<Order> {
 protected:
  std::unique_ptr<Device> device_ = make_device(GetParam());
};

TEST_P(SimKernels, Elementwise) {
  const uint32_t count = 1000;
  const auto a = random_floats(count, 1), b = random_floats(count, 2);
  auto out = device_->new_buffer(count * sizeof(float));
  struct { uint32_t count; float scale; } params{count, 1.5f};
  run_kernel(*device_, "axpby_f32", {buffer_arg(make_buffer(*device_, a)), buffer_arg(make_buffer(*device_, b)), buffer_arg(out),
                                     bytes_of(params)}, {div_up(count, 64), 1, 1}, {64, 1, 1});
  std::vector<float> expected(count);
  for (uint32_t i = 0; i < count; ++i) expected[i] = a[i] * 1.5f + b[i];
  expect_near(read_buffer<float>(*out), expected, 1e-6f);
}

TEST_P(SimKernels, TiledGemmWithThreadgroupMemory) {
  for (GemmShape s : {GemmShape{13, 7, 129}, GemmShape{32, 48, 16}, GemmShape{1, 33, 40}}) {
    const auto a = random_floats(size_t(s.m) * s.k, 3), b = random_floats(size_t(s.k) * s.n, 4);
    auto c = device_->new_buffer(size_t(s.m) * s.n * sizeof(float));
    run_kernel(*device_, "gemm_tiled_f32", {buffer_arg(make_buffer(*device_, a)), buffer_arg(make_buffer(*device_, b)), buffer_arg(c),
                                            bytes_of(s)}, {div_up(s.n, 16), div_up(s.m, 16), 1}, {16, 16, 1});
    expect_near(read_buffer<float>(*c), reference_gemm(a, b, s.m, s.n, s.k), 1e-4f);
  }
}

TEST_P(SimKernels, RegisterBlockedGemmWithVectors) {
  for (GemmShape s : {GemmShape{13, 20, 7}, GemmShape{4, 4, 1}, GemmShape{33, 64, 129}}) {
    const auto a = random_floats(size_t(s.m) * s.k, 5), b = random_floats(size_t(s.k) * s.n, 6);
    auto c = device_->new_buffer(size_t(s.m) * s.n * sizeof(float));
    run_kernel(*device_, "gemm_blocked_f32", {buffer_arg(make_buffer(*device_, a)), buffer_arg(make_buffer(*device_, b)), buffer_arg(c),
                                              bytes_of(s)}, {div_up(s.n / 4, 8), div_up(div_up(s.m, 4), 8), 1}, {8, 8, 1});
    expect_near(read_buffer<float>(*c), reference_gemm(a, b, s.m, s.n, s.k), 1e-4f);
  }
}

TEST_P(SimKernels, RowSoftmaxWithSimdReductions) {
  for (uint32_t threads : {128u, 40u}) {  // 40: a partial second SIMD-group
    for (uint32_t cols : {129u, 7u}) {
      const uint32_t rows = 5;
      const auto x = random_floats(size_t(rows) * cols, 7, -4.0f, 4.0f);
      auto y = device_->new_buffer(x.size() * sizeof(float));
      run_kernel(*device_, "softmax_rows_f32", {buffer_arg(make_buffer(*device_, x)), buffer_arg(y), bytes_of(cols)},
                 {rows, 1, 1}, {threads, 1, 1});
      std::vector<float> expected(x.size());
      for (uint32_t r = 0; r < rows; ++r) {
        double mx = -INFINITY, sum = 0;
        for (uint32_t c = 0; c < cols; ++c) mx = std::max(mx, double(x[r * cols + c]));
        for (uint32_t c = 0; c < cols; ++c) sum += std::exp(x[r * cols + c] - mx);
        for (uint32_t c = 0; c < cols; ++c) expected[r * cols + c] = float(std::exp(x[r * cols + c] - mx) / sum);
      }
      expect_near(read_buffer<float>(*y), expected, 1e-6f);
    }
  }
}

TEST_P(SimKernels, SimdgroupMatrixGemm) {
  for (GemmShape s : {GemmShape{8, 8, 8}, GemmShape{24, 16, 40}}) {
    const auto a = random_floats(size_t(s.m) * s.k, 8), b = random_floats(size_t(s.k) * s.n, 9);
    auto c = device_->new_buffer(size_t(s.m) * s.n * sizeof(float));
    run_kernel(*device_, "gemm_simdgroup_f32", {buffer_arg(make_buffer(*device_, a)), buffer_arg(make_buffer(*device_, b)),
                                                buffer_arg(c), bytes_of(s)}, {s.n / 8, s.m / 8, 1}, {32, 1, 1});
    expect_near(read_buffer<float>(*c), reference_gemm(a, b, s.m, s.n, s.k), 1e-4f);
  }
}

TEST_P(SimKernels, FunctionConstantsSelectVariant) {
  const uint32_t count = 77;
  const auto x = random_floats(count, 10), bias = random_floats(count, 11);
  auto x_buffer = make_buffer(*device_, x);
  auto y = device_->new_buffer(count * sizeof(float));

  FunctionConstants with_bias;
  with_bias.set_bool(0, true).set_float(1, 2.0f);
  run_kernel(*device_, "scale_bias_f32", {buffer_arg(x_buffer), buffer_arg(make_buffer(*device_, bias)), buffer_arg(y), bytes_of(count)},
             {div_up(count, 32), 1, 1}, {32, 1, 1}, with_bias);
  std::vector<float> expected(count);
  for (uint32_t i = 0; i < count; ++i) expected[i] = x[i] * 2.0f + bias[i];
  expect_near(read_buffer<float>(*y), expected, 1e-6f);

  FunctionConstants without_bias;  // the bias buffer may stay unbound
  without_bias.set_bool(0, false).set_float(1, 0.5f);
  run_kernel(*device_, "scale_bias_f32", {buffer_arg(x_buffer), Binding{}, buffer_arg(y), bytes_of(count)},
             {div_up(count, 32), 1, 1}, {32, 1, 1}, without_bias);
  for (uint32_t i = 0; i < count; ++i) expected[i] = x[i] * 0.5f;
  expect_near(read_buffer<float>(*y), expected, 1e-6f);
}

TEST_P(SimKernels, TemplateKernelInstantiations) {
  const uint32_t count = 37;
  const auto x = random_floats(count, 12);
  auto y = device_->new_buffer(count * sizeof(float));
  for (auto [name, factor] : {std::pair<const char*, float>{"scale_by2_f32", 2.0f}, {"scale_by3_f32", 3.0f}}) {
    run_kernel(*device_, name, {buffer_arg(make_buffer(*device_, x)), buffer_arg(y)}, {1, 1, 1}, {count, 1, 1});
    std::vector<float> expected(count);
    for (uint32_t i = 0; i < count; ++i) expected[i] = x[i] * factor;
    expect_near(read_buffer<float>(*y), expected, 0.0f);
  }
  std::vector<int32_t> xi(count);
  for (uint32_t i = 0; i < count; ++i) xi[i] = int32_t(i) - 10;
  auto yi = device_->new_buffer(count * sizeof(int32_t));
  run_kernel(*device_, "scale_by2_i32", {buffer_arg(make_buffer(*device_, xi)), buffer_arg(yi)}, {1, 1, 1}, {count, 1, 1});
  const auto got = read_buffer<int32_t>(*yi);
  for (uint32_t i = 0; i < count; ++i) EXPECT_EQ(got[i], 2 * xi[i]);

  std::vector<_Float16> xh(count);
  for (uint32_t i = 0; i < count; ++i) xh[i] = _Float16(x[i]);
  auto yh = device_->new_buffer(count * sizeof(_Float16));
  run_kernel(*device_, "scale_by5_f16", {buffer_arg(make_buffer(*device_, xh)), buffer_arg(yh)}, {1, 1, 1}, {count, 1, 1});
  const auto goth = read_buffer<_Float16>(*yh);
  for (uint32_t i = 0; i < count; ++i) EXPECT_EQ(float(goth[i]), float(_Float16(float(xh[i]) * 5.0f)));
}

TEST_P(SimKernels, HalfArithmetic) {
  const uint32_t count = 29;  // half4 elements
  const auto xf = random_floats(count * 4, 13, -3.0f, 3.0f);
  std::vector<_Float16> x(xf.begin(), xf.end());
  auto y = device_->new_buffer(x.size() * sizeof(_Float16));
  run_kernel(*device_, "half_ops", {buffer_arg(make_buffer(*device_, x)), buffer_arg(y)}, {1, 1, 1}, {count, 1, 1});
  const auto got = read_buffer<_Float16>(*y);
  auto h = [](double v) { return double(_Float16(float(v))); };  // round to half, as the kernel does per op
  const double offsets[4] = {1.0, -2.0, 0.25, 0.0};
  for (uint32_t i = 0; i < count; ++i) {
    double v[4], r[4];
    for (int j = 0; j < 4; ++j) v[j] = double(x[i * 4 + j]), r[j] = h(h(v[j] * 0.5) + offsets[j]);
    const double expected[4] = {std::max(r[0], 0.0), std::max(r[1], 0.0), h(std::exp(r[2])), h(h(v[0] * 2.0) - v[1])};
    for (int j = 0; j < 4; ++j) {
      EXPECT_NEAR(double(got[i * 4 + j]), expected[j], std::abs(expected[j]) * 2e-3 + 1e-3) << "element " << i << "." << j;
    }
  }
}

// Each half operation rounds to half: no float precision survives between operations.
TEST_P(SimKernels, HalfRoundsEveryOperation) {
  const std::vector<_Float16> x = {_Float16(2048.0f), _Float16(1.0f), _Float16(300.0f)};
  auto y = device_->new_buffer(5 * sizeof(_Float16));
  run_kernel(*device_, "half_rounding", {buffer_arg(make_buffer(*device_, x)), buffer_arg(y)}, {1, 1, 1}, {1, 1, 1});
  const auto got = read_buffer<_Float16>(*y);
  EXPECT_EQ(float(got[0]), 0.0f) << "(2048 + 1) - 2048 kept float precision";
  EXPECT_TRUE(std::isinf(float(got[1]))) << "300 * 300 / 300 kept float range: " << float(got[1]);
  EXPECT_EQ(float(got[2]), 0.0f) << "2048 + 1 + ... + 1 - 2048 kept float precision";
  EXPECT_EQ(float(got[3]), 0.0f) << "a sum of ones onto 2048 kept float precision";
  EXPECT_EQ(float(got[4]), 0.0f) << "fma(2048, 1, 1) - 2048";
}

INSTANTIATE_TEST_SUITE_P(Order, SimKernels, ::testing::Values(Order::kForward, Order::kReverse), order_name);

}  // namespace
}  // namespace metalnn::gpu::testing
