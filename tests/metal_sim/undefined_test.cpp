// What MSL leaves undefined gives loud values on metal-sim (undefined.metal): a shuffle from an
// inactive lane is poison (NaN), while a correct kernel of the same shape gets the right lanes.
#include <cmath>

#include "sim_test_util.h"

namespace metalnn::gpu::testing {
namespace {

constexpr uint32_t kThreads = 40;  // SIMD-groups of 32 and 8 lanes

std::vector<float> run(const std::string& kernel, const std::vector<float>& x) {
  auto device = make_device(Order::kForward);
  auto out = device->new_buffer(x.size() * sizeof(float));
  run_kernel(*device, kernel, {buffer_arg(make_buffer(*device, x)), buffer_arg(out)}, {1, 1, 1}, {kThreads, 1, 1});
  return read_buffer<float>(*out);
}

TEST(metal_sim_undefined, ShuffleFromInactiveLaneIsPoison) {
  const auto x = random_floats(kThreads, 30);
  const auto broken = run("shuffle_inactive_lane", x);
  for (uint32_t lane = 0; lane < 8; ++lane) {
    EXPECT_TRUE(std::isnan(broken[32 + lane])) << "lane " << lane << " read lane " << lane + 8;
  }
  for (uint32_t i = 0; i < 32; ++i) EXPECT_EQ(broken[i], x[(i + 8) % 32]);

  const auto correct = run("shuffle_active_lane", x);
  for (uint32_t i = 0; i < 32; ++i) EXPECT_EQ(correct[i], x[(i + 1) % 32]);
  for (uint32_t i = 0; i < 8; ++i) EXPECT_EQ(correct[32 + i], x[32 + (i + 1) % 8]);
}

TEST(metal_sim_undefined, ShuffleDownPastTheEndKeepsTheValue) {
  const auto x = random_floats(kThreads, 31);
  const auto y = run("shuffle_down_edge", x);
  for (uint32_t i = 0; i < 32; ++i) EXPECT_EQ(y[i], i + 4 < 32 ? x[i + 4] : x[i]);
  for (uint32_t i = 0; i < 4; ++i) EXPECT_EQ(y[32 + i], x[32 + i + 4]);
  for (uint32_t i = 4; i < 8; ++i) EXPECT_TRUE(std::isnan(y[32 + i])) << "lane " << i << " read an inactive lane";
}

}  // namespace
}  // namespace metalnn::gpu::testing
