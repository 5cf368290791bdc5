// The race checker (SimDeviceOptions::race_check, METALNN_SIM_RACECHECK=1) and the order of
// dispatches between barriers, on the kernels of races.metal: each broken kernel is caught with its
// kernel, memory, threads and .metal lines named; each correct one of the same shape passes with the
// right result.
#include <string>

#include "core/error.h"
#include "gpu/sim/kernel_registry.h"
#include "sim_test_util.h"

namespace metalnn::gpu::testing {
namespace {

constexpr uint32_t kGroups = 4, kThreads = 64, kN = kGroups * kThreads;

bool racecheck_built() {
  const metal_sim::KernelLibrary library = metal_sim::test_kernels();
  return metal_sim::racecheck_copy(library, metal_sim::find_kernel(library, "rotate_with_barrier")) != nullptr;
}

#define REQUIRE_RACECHECK() \
  if (!racecheck_built()) GTEST_SKIP() << "built without race-check copies (METALNN_SANITIZE)"

std::unique_ptr<Device> racecheck_device(Order order = Order::kForward) {
  SimDeviceOptions options;
  options.race_check = true;
  options.reverse_thread_order = order == Order::kReverse;
  return create_sim_device(metal_sim::test_kernels(), options);
}

std::vector<float> run_pair(Device& device, const std::string& kernel, const std::vector<float>& in, size_t out_size) {
  auto out = device.new_buffer(out_size * sizeof(float));
  run_kernel(device, kernel, {buffer_arg(make_buffer(device, in)), buffer_arg(out)}, {kGroups, 1, 1}, {kThreads, 1, 1});
  return read_buffer<float>(*out);
}

// The DeviceError's message, or "" when the run succeeded.
std::string race_error(Device& device, const std::string& kernel, const std::vector<float>& in, size_t out_size) {
  try {
    run_pair(device, kernel, in, out_size);
  } catch (const DeviceError& e) {
    return e.what();
  }
  return "";
}

void expect_contains(const std::string& message, const std::vector<std::string>& parts) {
  for (const std::string& p : parts) EXPECT_NE(message.find(p), std::string::npos) << "'" << p << "' not in: " << message;
}

std::vector<float> rotated(const std::vector<float>& in) {
  std::vector<float> out(in.size());
  for (uint32_t g = 0; g < kGroups; ++g)
    for (uint32_t t = 0; t < kThreads; ++t) out[g * kThreads + t] = in[g * kThreads + (t + 1) % kThreads];
  return out;
}

TEST(metal_sim_racecheck, ThreadgroupMemoryWithoutBarrier) {
  REQUIRE_RACECHECK();
  const auto in = random_floats(kN, 1);
  for (Order order : {Order::kForward, Order::kReverse}) {
    auto device = racecheck_device(order);
    const std::string error = race_error(*device, "rotate_missing_barrier", in, kN);
    expect_contains(error, {"kernel 'rotate_missing_barrier'", "threadgroup variable 'slots'", "races.metal:10",
                            "races.metal:11", "thread (", "of threadgroup ("});
    EXPECT_EQ(run_pair(*device, "rotate_with_barrier", in, kN), rotated(in));
  }
}

TEST(metal_sim_racecheck, VectorComponentStoreIsReadModifyWriteOfTheVector) {
  REQUIRE_RACECHECK();
  const auto in = random_floats(kN, 2);
  auto device = racecheck_device();
  const std::string error = race_error(*device, "vector_component_store", in, kN);
  expect_contains(error, {"kernel 'vector_component_store'", "threadgroup variable 'tile'", "races.metal:28", "write by"});
  EXPECT_EQ(run_pair(*device, "scalar_view_store", in, kN), rotated(in));
  // Without the race checker the simulator stores one component, so the broken kernel looks right.
  auto plain = make_device(Order::kForward);
  EXPECT_EQ(run_pair(*plain, "vector_component_store", in, kN), rotated(in));
}

TEST(metal_sim_racecheck, DeviceMemoryAcrossThreadgroups) {
  REQUIRE_RACECHECK();
  const auto in = random_floats(kN, 3);
  std::vector<float> sums(kGroups, 0.0f);
  for (uint32_t g = 0; g < kGroups; ++g)
    for (uint32_t t = 0; t < kThreads; ++t) sums[g] += in[g * kThreads + t];
  auto device = racecheck_device();
  expect_contains(race_error(*device, "group_sum_same_slot", in, kGroups),
                  {"kernel 'group_sum_same_slot'", "buffer(1) 'out' bytes 0..3", "between threadgroups", "races.metal:50"});
  expect_near(run_pair(*device, "group_sum_own_slot", in, kGroups), sums, 1e-5f);
  const float total = sums[0] + sums[1] + sums[2] + sums[3];
  EXPECT_NEAR(run_pair(*device, "group_sum_atomic", in, 1)[0], total, 1e-4f);  // atomics are exempt

  expect_contains(race_error(*device, "shift_in_place", in, 1),
                  {"kernel 'shift_in_place'", "buffer(0) 'data'", "races.metal:77", "races.metal:78"});
  std::vector<float> shifted(kN);
  for (uint32_t i = 0; i < kN; ++i) shifted[i] = in[(i + 1) % kN];
  EXPECT_EQ(run_pair(*device, "shift_out_of_place", in, kN), shifted);
}

// scale_by_two (x -> tmp) then add_one (tmp -> y), with or without a barrier between them.
std::vector<float> two_dispatches(Device& device, const std::vector<float>& x, bool barrier) {
  auto in = make_buffer(device, x);
  auto tmp = device.new_buffer(x.size() * sizeof(float));
  auto out = device.new_buffer(x.size() * sizeof(float));
  auto scale = device.new_pipeline("scale_by_two", {});
  auto add = device.new_pipeline("add_one", {});
  auto commands = device.new_command_buffer();
  commands->set_pipeline(*scale);
  commands->set_buffer(*in, 0, in->length(), 0);
  commands->set_buffer(*tmp, 0, tmp->length(), 1);
  commands->dispatch({kGroups, 1, 1}, {kThreads, 1, 1});
  if (barrier) commands->barrier();
  commands->set_pipeline(*add);
  commands->set_buffer(*tmp, 0, tmp->length(), 0);
  commands->set_buffer(*out, 0, out->length(), 1);
  commands->dispatch({kGroups, 1, 1}, {kThreads, 1, 1});
  commands->commit_and_wait();
  return read_buffer<float>(*out);
}

TEST(metal_sim_racecheck, DispatchesWithoutBarrierRunOutOfOrderAndAreReported) {
  const auto x = random_floats(kN, 4);
  std::vector<float> expected(kN);
  for (uint32_t i = 0; i < kN; ++i) expected[i] = 2.0f * x[i] + 1.0f;
  auto plain = make_device(Order::kForward);
  EXPECT_EQ(two_dispatches(*plain, x, true), expected);
  // Without the barrier the second dispatch runs first and reads the still-zero intermediate.
  EXPECT_EQ(two_dispatches(*plain, x, false), std::vector<float>(kN, 1.0f));

  REQUIRE_RACECHECK();
  auto device = racecheck_device();
  EXPECT_EQ(two_dispatches(*device, x, true), expected);
  try {
    two_dispatches(*device, x, false);
    ADD_FAILURE() << "no race reported between two dispatches without a barrier";
  } catch (const DeviceError& e) {
    expect_contains(e.what(), {"dispatches 0 (kernel 'scale_by_two') and 1 (kernel 'add_one')", "no barrier",
                               "buffer(1) 'out'", "buffer(0) 'in'"});
  }
}

TEST(metal_sim_racecheck, ShuffledDispatchOrderIsReproducible) {
  // Eight independent dispatches between two barriers, each writing its own slice: any order gives
  // the same result, and the race checker finds nothing.
  for (uint64_t seed : {0u, 1u, 7u}) {
    SimDeviceOptions options;
    options.dispatch_order_seed = seed;
    options.race_check = racecheck_built();
    auto device = create_sim_device(metal_sim::test_kernels(), options);
    const auto x = random_floats(8 * kThreads, 5);
    auto in = make_buffer(*device, x);
    auto out = device->new_buffer(x.size() * sizeof(float));
    auto scale = device->new_pipeline("scale_by_two", {});
    auto commands = device->new_command_buffer();
    commands->set_pipeline(*scale);
    for (uint32_t i = 0; i < 8; ++i) {
      commands->set_buffer(*in, i * kThreads * sizeof(float), kThreads * sizeof(float), 0);
      commands->set_buffer(*out, i * kThreads * sizeof(float), kThreads * sizeof(float), 1);
      commands->dispatch({1, 1, 1}, {kThreads, 1, 1});
    }
    commands->commit_and_wait();
    const auto y = read_buffer<float>(*out);
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(y[i], 2.0f * x[i]) << "seed " << seed << " index " << i;
  }
}

// `kernel` over `threads` threads with buffer(0) bound to `in_floats` and buffer(1) to `out_bytes`,
// each at the start of a buffer twice as large (as tensors lie in an arena); the DeviceError's
// message, or "" with `out` set to the written bytes.
std::string bounded_run(Device& device, const std::string& kernel, uint32_t threads, size_t in_floats,
                        size_t out_bytes, std::vector<float>* out = nullptr) {
  const auto x = random_floats(2 * in_floats, 6);
  auto in = make_buffer(device, x);
  auto result = device.new_buffer(2 * out_bytes);
  auto pipeline = device.new_pipeline(kernel, {});
  auto commands = device.new_command_buffer();
  commands->set_pipeline(*pipeline);
  commands->set_buffer(*in, 0, in_floats * sizeof(float), 0);
  commands->set_buffer(*result, 0, out_bytes, 1);
  commands->dispatch_threads({threads, 1, 1}, {kThreads, 1, 1});
  try {
    commands->commit_and_wait();
  } catch (const DeviceError& e) {
    return e.what();
  }
  if (out) *out = read_buffer<float>(*result);
  return "";
}

TEST(metal_sim_racecheck, ReadPastTheBindingIntoItsBuffer) {
  REQUIRE_RACECHECK();
  for (Order order : {Order::kForward, Order::kReverse}) {
    auto device = racecheck_device(order);
    // The last thread reads in[kN], the first float after the kN bound: inside the buffer, not the tensor.
    expect_contains(bounded_run(*device, "read_next", kN, kN, kN * sizeof(float)),
                    {"kernel 'read_next'", "out-of-bounds read", "bytes 1024..1027 of buffer(0) 'in'",
                     "bound to 1024 bytes", "thread (63,0,0) of threadgroup (3,0,0)", "races.metal:100"});
    // The same overrun past the end of a whole buffer lands in its page's rest, which is the buffer's too.
    expect_contains(race_error(*device, "read_next", random_floats(kN, 7), kN),
                    {"kernel 'read_next'", "out-of-bounds read", "bytes 1024..1027 of buffer(0) 'in'",
                     "bound to 1024 bytes"});
    std::vector<float> y;
    EXPECT_EQ(bounded_run(*device, "read_next", kN, kN + 1, kN * sizeof(float), &y), "");
    const auto x = random_floats(2 * (kN + 1), 6);
    for (uint32_t i = 0; i < kN; ++i) ASSERT_EQ(y[i], x[i + 1]) << i;
  }
}

TEST(metal_sim_racecheck, VectorStoreStraddlingTheBindingsEnd) {
  REQUIRE_RACECHECK();
  auto device = racecheck_device();
  // 16 threads store 16 float4 = 256 bytes into 62 floats (248 bytes): the last store's last two
  // lanes pass the end. The compiler emits it lane by lane (GCC on x86-64: the first lane past the end
  // is reported) or as one 16-byte store (clang on arm64: the whole store, which straddles the end).
  const std::string message = bounded_run(*device, "store_float4", 16, 16, 62 * sizeof(float));
  expect_contains(message, {"kernel 'store_float4'", "out-of-bounds write", "of buffer(1) 'out', which is bound to 248 bytes",
                            "thread (15,0,0)"});
  EXPECT_TRUE(message.find("bytes 248..251 ") != std::string::npos || message.find("bytes 240..255 ") != std::string::npos)
      << message;
  EXPECT_EQ(bounded_run(*device, "store_float4", 16, 16, 64 * sizeof(float)), "");
  // Without the race checker nothing is checked: the overrun lands in the buffer's other half.
  auto plain = make_device(Order::kForward);
  EXPECT_EQ(bounded_run(*plain, "store_float4", 16, 16, 62 * sizeof(float)), "");
}

TEST(metal_sim_device, BindingPastTheBuffersEndIsRefused) {
  auto device = make_device(Order::kForward);
  auto buffer = device->new_buffer(64);
  auto commands = device->new_command_buffer();
  EXPECT_THROW(commands->set_buffer(*buffer, 16, 64, 0), DeviceError);
  EXPECT_THROW(commands->set_buffer(*buffer, 80, 0, 0), DeviceError);
  commands->set_buffer(*buffer, 16, 48, 0);
}

}  // namespace
}  // namespace metalnn::gpu::testing
