// Helpers for metal-sim tests: a device over the test kernels, buffers from vectors, one-dispatch
// runs, and comparison with a reference computed in the test.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gpu/device.h"
#include "gpu/sim/sim_device.h"

namespace metal_sim {
KernelLibrary test_kernels();  // generated from tests/metal_sim/kernels/*.metal
}

namespace metalnn::gpu::testing {

enum class Order { kForward, kReverse };

inline std::string order_name(const ::testing::TestParamInfo<Order>& info) {
  return info.param == Order::kForward ? "forward" : "reverse";
}

inline std::unique_ptr<Device> make_device(Order order) {
  SimDeviceOptions options;
  options.reverse_thread_order = order == Order::kReverse;
  return create_sim_device(metal_sim::test_kernels(), options);
}

template <class T>
std::shared_ptr<Buffer> make_buffer(Device& device, const std::vector<T>& values) {
  auto buffer = device.new_buffer(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(buffer->contents(), values.data(), values.size() * sizeof(T));
  return buffer;
}

template <class T>
std::vector<T> read_buffer(Buffer& buffer) {
  std::vector<T> out(buffer.length() / sizeof(T));
  std::memcpy(out.data(), buffer.contents(), out.size() * sizeof(T));
  return out;
}

// Uniform over [lo, hi] from 24 random bits. Not std::uniform_real_distribution: libstdc++ computes it in
// long double, a software 128-bit type on aarch64 Linux, which makes large test inputs take seconds.
inline std::vector<float> random_floats(size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = lo + (hi - lo) * (static_cast<float>(rng() >> 8) * 0x1p-24f);
  return v;
}

// One dispatch of `kernel` with buffers bound at indices 0, 1, ... in order.
struct Binding {
  std::shared_ptr<Buffer> buffer;  // owned: tests pass freshly made buffers
  std::vector<unsigned char> bytes;
};
inline Binding buffer_arg(std::shared_ptr<Buffer> buffer) { return Binding{std::move(buffer), {}}; }
template <class T>
Binding bytes_of(const T& value) {
  Binding b;
  b.bytes.resize(sizeof(T));
  std::memcpy(b.bytes.data(), &value, sizeof(T));
  return b;
}

inline void run_kernel(Device& device, const std::string& kernel, const std::vector<Binding>& bindings, Size3 groups,
                       Size3 threads, const FunctionConstants& constants = {}) {
  auto pipeline = device.new_pipeline(kernel, constants);
  auto commands = device.new_command_buffer();
  commands->set_pipeline(*pipeline);
  for (uint32_t i = 0; i < bindings.size(); ++i) {
    if (bindings[i].buffer) {
      commands->set_buffer(*bindings[i].buffer, 0, bindings[i].buffer->length(), i);
    } else if (!bindings[i].bytes.empty()) {
      commands->set_bytes(bindings[i].bytes.data(), bindings[i].bytes.size(), i);
    }
  }
  commands->dispatch(groups, threads);
  commands->commit_and_wait();
}

inline uint32_t div_up(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

// Row-major reference GEMM in double.
inline std::vector<float> reference_gemm(const std::vector<float>& a, const std::vector<float>& b, uint32_t m,
                                         uint32_t n, uint32_t k) {
  std::vector<float> c(size_t(m) * n);
  for (uint32_t i = 0; i < m; ++i)
    for (uint32_t j = 0; j < n; ++j) {
      double sum = 0;
      for (uint32_t p = 0; p < k; ++p) sum += double(a[size_t(i) * k + p]) * b[size_t(p) * n + j];
      c[size_t(i) * n + j] = float(sum);
    }
  return c;
}

// Accumulation order differs from the reference (and from the GPU): allow a few ulps per term.
inline void expect_near(const std::vector<float>& actual, const std::vector<float>& expected, float tolerance) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    ASSERT_NEAR(actual[i], expected[i], tolerance) << "at index " << i;
  }
}

// Death tests re-execute the test binary ("threadsafe": no fork of a process with threads) unless the
// runner chose a style through GTEST_DEATH_TEST_STYLE: under qemu-user (tools/test_aarch64.sh) an
// aarch64 binary cannot exec itself, and each ctest case runs in a fresh process anyway.
inline void prefer_threadsafe_death_tests() {
  if (!std::getenv("GTEST_DEATH_TEST_STYLE")) GTEST_FLAG_SET(death_test_style, "threadsafe");
}

}  // namespace metalnn::gpu::testing
