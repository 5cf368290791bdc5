// Relaxed atomics on device and threadgroup memory (atomics.metal): integer adds, float adds through
// a compare-and-swap loop, and an integer maximum, across threadgroups that run in parallel.
#include "sim_test_util.h"

namespace metalnn::gpu::testing {
namespace {

TEST(metal_sim_atomics, CountersSumsAndMaximaAreExact) {
  for (Order order : {Order::kForward, Order::kReverse}) {
    auto device = make_device(order);
    auto total = make_buffer(*device, std::vector<uint32_t>{0});
    auto sum = make_buffer(*device, std::vector<float>{0.0f});
    auto largest = make_buffer(*device, std::vector<int32_t>{-1});
    run_kernel(*device, "atomic_counters", {buffer_arg(total), buffer_arg(sum), buffer_arg(largest)}, {4, 1, 1},
               {64, 1, 1});
    EXPECT_EQ(read_buffer<uint32_t>(*total)[0], 256u);
    EXPECT_EQ(read_buffer<float>(*sum)[0], 128.0f);
    EXPECT_EQ(read_buffer<int32_t>(*largest)[0], 255);
  }
}

}  // namespace
}  // namespace metalnn::gpu::testing
