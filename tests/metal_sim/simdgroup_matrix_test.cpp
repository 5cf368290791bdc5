// simdgroup_matrix operations run as SIMD-group collectives (simdgroup_matrix.metal): a uniform
// transposing copy is exact in both thread orders, and a load reached by half the SIMD-group is a
// divergent SIMD-group function, reported with the kernel and the .metal line.
#include "sim_test_util.h"

namespace metalnn::gpu::testing {
namespace {

TEST(metal_sim_simdgroup_matrix, TransposingCopyIsExactInBothOrders) {
  const auto x = random_floats(64, 30);
  for (Order order : {Order::kForward, Order::kReverse}) {
    auto device = make_device(order);
    auto y = device->new_buffer(x.size() * sizeof(float));
    run_kernel(*device, "simdgroup_matrix_transpose", {buffer_arg(make_buffer(*device, x)), buffer_arg(y)}, {1, 1, 1},
               {32, 1, 1});
    const auto got = read_buffer<float>(*y);
    for (int r = 0; r < 8; ++r)
      for (int c = 0; c < 8; ++c) EXPECT_EQ(got[r * 8 + c], x[c * 8 + r]) << "row " << r << ", column " << c;
  }
}

TEST(metal_sim_simdgroup_matrix_death, DivergentLoadAborts) {
  prefer_threadsafe_death_tests();
  auto run = [] {
    SimDeviceOptions options;
    options.threads = 1;
    auto device = create_sim_device(metal_sim::test_kernels(), options);
    auto x = device->new_buffer(64 * sizeof(float));
    auto y = device->new_buffer(64 * sizeof(float));
    run_kernel(*device, "simdgroup_matrix_divergent", {buffer_arg(x), buffer_arg(y)}, {1, 1, 1}, {32, 1, 1});
  };
  EXPECT_DEATH(run(), "kernel 'simdgroup_matrix_divergent'.*divergent SIMD-group function.*"
                      "simdgroup_matrix\\.metal:[0-9]+ \\(simdgroup_(load|store)\\)");
}

}  // namespace
}  // namespace metalnn::gpu::testing
