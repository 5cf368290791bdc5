// What MSL leaves undefined gives loud values on metal-sim (undefined.metal): a shuffle from an
// inactive lane is poison (NaN), while a correct kernel of the same shape gets the right lanes; an
// integer division by zero gives a defined value instead of a crash.
#include <climits>
#include <cmath>
#include <type_traits>

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

// What metal-sim gives on every CPU (aarch64's udiv/sdiv results): x / 0 = 0, x % 0 = x, and a
// signed quotient that overflows wraps.
template <class T>
T quotient(T x, T y) {
  if (y == 0) return 0;
  if (std::is_signed<T>::value && y == T(-1)) return T(0 - static_cast<std::make_unsigned_t<T>>(x));
  return x / y;
}
template <class T>
T remainder(T x, T y) {
  if (y == 0) return x;
  if (std::is_signed<T>::value && y == T(-1)) return 0;
  return x % y;
}

TEST(metal_sim_undefined, IntegerDivisionByZeroGivesAValue) {
  const std::vector<int> a = {7, INT_MIN, -7, 0, INT_MIN, 100000, -5, 65535, 3};
  const std::vector<int> b = {0, -1, 2, 0, 0, 7, 0, 65536, -1};
  auto device = make_device(Order::kForward);
  auto out = device->new_buffer(a.size() * 8 * sizeof(int));
  run_kernel(*device, "integer_division",
             {buffer_arg(make_buffer(*device, a)), buffer_arg(make_buffer(*device, b)), buffer_arg(out)}, {1, 1, 1},
             {uint32_t(a.size()), 1, 1});
  const auto got = read_buffer<int>(*out);
  for (size_t i = 0; i < a.size(); ++i) {
    const int x = a[i], y = b[i];
    const unsigned short xs = static_cast<unsigned short>(x), ys = static_cast<unsigned short>(y);
    const long x16 = long(x) * 65536;
    const int expected[8] = {quotient(x, y),
                             remainder(x, y),
                             int(quotient(unsigned(x), unsigned(y))),
                             int(remainder(unsigned(x), unsigned(y))),
                             int(quotient(quotient(x16, long(y)), 65536L)),
                             int(remainder(long(x), long(y))),
                             quotient(int(xs), int(ys)),
                             remainder(int(xs), int(ys))};
    for (int k = 0; k < 8; ++k) EXPECT_EQ(got[8 * i + k], expected[k]) << x << ", " << y << ": result " << k;
  }
}

}  // namespace
}  // namespace metalnn::gpu::testing
