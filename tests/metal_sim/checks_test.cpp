// metal-sim's checks on deliberately broken kernels (broken.metal) and on misuse of the device API.
#include <cstdlib>

#include "core/error.h"
#include "sim_test_util.h"

namespace metalnn::gpu::testing {
namespace {

struct GemmShape {
  uint32_t m, n, k;
};

std::vector<float> run_reverse(Order order, const std::string& kernel, uint32_t threads) {
  auto device = make_device(order);
  const auto x = random_floats(threads * 2, 20);
  auto y = device->new_buffer(x.size() * sizeof(float));
  run_kernel(*device, kernel, {buffer_arg(make_buffer(*device, x)), buffer_arg(y)}, {2, 1, 1}, {threads, 1, 1});
  return read_buffer<float>(*y);
}

std::vector<float> expected_reverse(uint32_t threads) {
  const auto x = random_floats(threads * 2, 20);
  std::vector<float> out(x.size());
  for (uint32_t g = 0; g < 2; ++g)
    for (uint32_t t = 0; t < threads; ++t) out[g * threads + t] = x[g * threads + threads - 1 - t];
  return out;
}

TEST(metal_sim_checks, BarrierMakesReverseCorrectInBothOrders) {
  for (Order order : {Order::kForward, Order::kReverse}) {
    EXPECT_EQ(run_reverse(order, "reverse_with_barrier", 200), expected_reverse(200));
  }
}

TEST(metal_sim_checks, MissingBarrierReadsPoisonedThreadgroupMemory) {
  // Forward order: thread 0 reads the slot thread 199 has not written yet, which holds the poison NaN.
  const auto forward = run_reverse(Order::kForward, "reverse_missing_barrier", 200);
  const auto reverse = run_reverse(Order::kReverse, "reverse_missing_barrier", 200);
  EXPECT_TRUE(std::isnan(forward[0]));
  EXPECT_TRUE(forward != expected_reverse(200) || reverse != expected_reverse(200));
}

TEST(metal_sim_checks, MissingSecondBarrierInTiledGemmIsWrongInSomeOrder) {
  const GemmShape s{16, 16, 48};
  const auto a = random_floats(size_t(s.m) * s.k, 21), b = random_floats(size_t(s.k) * s.n, 22);
  const auto expected = reference_gemm(a, b, s.m, s.n, s.k);
  bool some_order_wrong = false;
  for (Order order : {Order::kForward, Order::kReverse}) {
    auto device = make_device(order);
    auto c = device->new_buffer(expected.size() * sizeof(float));
    run_kernel(*device, "gemm_tiled_missing_barrier",
               {buffer_arg(make_buffer(*device, a)), buffer_arg(make_buffer(*device, b)), buffer_arg(c), bytes_of(s)}, {1, 1, 1},
               {16, 16, 1});
    const auto got = read_buffer<float>(*c);
    for (size_t i = 0; i < got.size(); ++i) some_order_wrong |= !(std::abs(got[i] - expected[i]) < 1e-4f);
  }
  EXPECT_TRUE(some_order_wrong);
}

void run_single(const std::string& kernel, uint32_t buffer_floats, uint32_t threads) {
  SimDeviceOptions options;
  options.threads = 1;
  auto device = create_sim_device(metal_sim::test_kernels(), options);
  auto y = device->new_buffer(buffer_floats * sizeof(float));
  run_kernel(*device, kernel, {buffer_arg(y)}, {1, 1, 1}, {threads, 1, 1});
}

TEST(metal_sim_checks_death, BarrierInDivergentControlFlowAborts) {
  prefer_threadsafe_death_tests();
  EXPECT_DEATH(run_single("divergent_barrier", 64, 64),
               "kernel 'divergent_barrier' \\(.*broken\\.metal:[0-9]+\\).*divergent threadgroup_barrier.*"
               "broken\\.metal:[0-9]+.*returned");
  EXPECT_DEATH(run_single("divergent_barrier_branches", 64, 64),
               "kernel 'divergent_barrier_branches'.*divergent threadgroup_barrier");
}

TEST(metal_sim_checks_death, OutOfBoundsWriteCaughtByAddressSanitizer) {
#if defined(__SANITIZE_ADDRESS__)
  prefer_threadsafe_death_tests();
  // The write lands in the poisoned rest of the buffer's last page (or, were it exactly a page, past it).
  EXPECT_DEATH(run_single("out_of_bounds_write", 60, 64), "use-after-poison|heap-buffer-overflow");
#else
  GTEST_SKIP() << "needs AddressSanitizer (tests/metal_sim/run_sanitized.sh)";
#endif
}

TEST(metal_sim_device, ErrorsNameTheKernelAndBinding) {
  auto device = make_device(Order::kForward);
  EXPECT_THROW(device->new_pipeline("no_such_kernel"), DeviceError);
  FunctionConstants wrong_type;
  wrong_type.set_int(0, 1);  // has_bias is a bool
  EXPECT_THROW(device->new_pipeline("scale_bias_f32", wrong_type), DeviceError);

  auto pipeline = device->new_pipeline("axpby_f32");
  auto commands = device->new_command_buffer();
  commands->set_pipeline(*pipeline);
  try {
    commands->dispatch({1, 1, 1}, {32, 1, 1});
    FAIL() << "dispatch with unbound buffers must throw";
  } catch (const DeviceError& e) {
    EXPECT_NE(std::string(e.what()).find("kernel 'axpby_f32': buffer(0) 'a' is not bound"), std::string::npos)
        << e.what();
  }
  auto buffer = device->new_buffer(64);
  for (uint32_t i = 0; i < 4; ++i) commands->set_buffer(*buffer, 0, buffer->length(), i);
  EXPECT_THROW(commands->dispatch({1, 1, 1}, {2048, 1, 1}), DeviceError);
}

TEST(metal_sim_device, OneCommandBufferHoldsManyDispatches) {
  auto device = make_device(Order::kForward);
  const uint32_t count = 64;
  auto x = make_buffer(*device, random_floats(count, 23));
  auto y = device->new_buffer(count * sizeof(float));
  auto times2 = device->new_pipeline("scale_by2_f32");
  auto times3 = device->new_pipeline("scale_by3_f32");
  auto commands = device->new_command_buffer();
  commands->set_pipeline(*times2);
  commands->set_buffer(*x, 0, x->length(), 0);
  commands->set_buffer(*y, 0, y->length(), 1);
  commands->dispatch({2, 1, 1}, {32, 1, 1});
  commands->barrier();
  commands->set_pipeline(*times3);
  commands->set_buffer(*y, 0, y->length(), 0);
  commands->set_buffer(*x, 0, x->length(), 1);  // x = 3 * (2 * x)
  commands->dispatch({2, 1, 1}, {32, 1, 1});
  const auto before = read_buffer<float>(*x);
  commands->commit_and_wait();
  const auto after = read_buffer<float>(*x);
  for (uint32_t i = 0; i < count; ++i) EXPECT_EQ(after[i], before[i] * 2.0f * 3.0f);

  const DeviceCounters counters = device->counters();
  EXPECT_EQ(counters.command_buffers_created, 1u);
  EXPECT_EQ(counters.pipelines_created, 2u);
  EXPECT_EQ(counters.buffers_created, 2u);
  EXPECT_THROW(commands->commit_and_wait(), DeviceError);
}

TEST(metal_sim_device, FunctionConstantKeyIsCanonical) {
  FunctionConstants a, b;
  a.set_bool(0, true).set_float(1, 1.0f);
  b.set_float(1, 1.0f).set_bool(0, true);
  EXPECT_EQ(a.key(), b.key());
  EXPECT_EQ(a.key(), "0:b00000001,1:f3f800000");
}

}  // namespace
}  // namespace metalnn::gpu::testing
