// What the GPU path asks of a device before it dispatches (check_dispatch), how SIMD width and the
// simdgroup-matrix cap come from DeviceLimits, and what "auto" says when it falls back from metal.
// Devices with chosen limits stand in for GPUs this machine does not have.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "cpu/evaluator.h"
#include "engine/devices.h"
#include "gpu/gpu_executable.h"
#include "gpu/lowering.h"
#include "gpu/sim/sim_device.h"
#include "one_node.h"

namespace metalnn::gpu {
namespace {

using test::expect_error;

class FakePipeline : public Pipeline {
 public:
  FakePipeline(uint32_t width, uint32_t max_threads) : width_(width), max_threads_(max_threads) {}
  const std::string& kernel_name() const override { return name_; }
  uint32_t max_total_threads_per_threadgroup() const override { return max_threads_; }
  uint32_t thread_execution_width() const override { return width_; }

 private:
  std::string name_ = "softmax_row_f32";
  uint32_t width_, max_threads_;
};

// metal-sim's kernels behind a GPU with other limits.
class StandInGpu : public Device {
 public:
  explicit StandInGpu(DeviceLimits limits) : sim_(create_sim_device()), limits_(limits) {}
  std::string name() const override { return "metal"; }
  DeviceLimits limits() const override { return limits_; }
  DeviceInfo info() const override { return DeviceInfo{"Stand-in GPU", "Apple7", "metal-sim's kernels"}; }
  std::vector<std::string> kernel_names() const override { return sim_->kernel_names(); }

 protected:
  std::shared_ptr<Buffer> create_buffer(size_t length) override { return sim_->new_buffer(length); }
  std::shared_ptr<Buffer> create_wrapped(void* data, size_t length) override { return sim_->wrap_memory(data, length); }
  std::shared_ptr<Pipeline> create_pipeline(const std::string& kernel, const FunctionConstants& constants) override {
    return sim_->new_pipeline(kernel, constants);
  }
  std::unique_ptr<CommandBuffer> create_command_buffer() override { return sim_->new_command_buffer(); }

 private:
  std::unique_ptr<Device> sim_;
  DeviceLimits limits_;
};

Dispatch dispatch_of(uint32_t width, uint32_t max_threads, Size3 threads) {
  Dispatch d;
  d.pipeline = std::make_shared<FakePipeline>(width, max_threads);
  d.simd_width = 32;
  return d.grid(Size3{4, 1, 1}, threads);
}

TEST(CheckDispatch, ThreadsPerThreadgroupWithinThePipelinesMaximum) {
  StandInGpu gpu{DeviceLimits{}};
  check_dispatch(dispatch_of(32, 256, Size3{16, 16, 1}), gpu, "Softmax 's'");
  expect_error<DeviceError>([&] { check_dispatch(dispatch_of(32, 192, Size3{16, 16, 1}), gpu, "Softmax 's'"); },
                            "metal: GPU 'Stand-in GPU' cannot run Softmax 's': kernel 'softmax_row_f32' allows 192 "
                            "threads per threadgroup (maxTotalThreadsPerThreadgroup), the lowering uses 256",
                            true);
}

TEST(CheckDispatch, PipelineSimdWidthMatchesTheDevices) {
  StandInGpu gpu{DeviceLimits{}};
  check_dispatch(dispatch_of(32, 1024, Size3{256, 1, 1}), gpu, "Softmax 's'");
  expect_error<DeviceError>([&] { check_dispatch(dispatch_of(16, 1024, Size3{256, 1, 1}), gpu, "Softmax 's'"); },
                            "runs 16-wide SIMD-groups (threadExecutionWidth), the kernels are dispatched for 32");
}

TEST(CheckDispatch, ThreadgroupMemoryWithinTheDevices) {
  DeviceLimits limits;
  limits.max_threadgroup_memory = 16384;
  StandInGpu gpu{limits};
  Dispatch d = dispatch_of(32, 1024, Size3{64, 1, 1});
  d.threadgroup_memory = {{0, 16384}};
  check_dispatch(d, gpu, "Conv 'c'");
  d.threadgroup_memory = {{0, 16384}, {1, 16}};
  expect_error<DeviceError>([&] { check_dispatch(d, gpu, "Conv 'c'"); },
                            "needs 16400 bytes of threadgroup memory, the GPU has 16384");
}

TEST(DeviceLimits, SimdgroupDispatchesFollowTheSimdWidth) {
  Dispatch d;
  d.simd_width = 32;
  EXPECT_EQ(d.simdgroups_1d(20).threads.x, 8u * 32);
  EXPECT_EQ(d.groups.x, 3u);
  d.simd_width = 64;
  EXPECT_EQ(d.simdgroups_1d(20).threads.x, 8u * 64);
}

TEST(DeviceLimits, MetalSimReportsItsSimdWidthAndCapsSimdgroupMatrices) {
  auto sim = create_sim_device();
  EXPECT_EQ(sim->limits().simd_width, 32u);
  EXPECT_GT(sim->limits().simdgroup_matrix_max_macs, 0u);
  const std::vector<std::string> kernels = sim->kernel_names();
  EXPECT_NE(std::find(kernels.begin(), kernels.end(), "matmul_simdgroup_f32"), kernels.end());
}

// A 64x64x512 product (2^21 multiply-adds): above metal-sim's cap, so metal-sim takes the tiled GEMM,
// and a device without the cap (as on metal) takes the simdgroup-matrix one; both compute it right.
TEST(DeviceLimits, SimdgroupMatrixCapIsADeviceProperty) {
  const Tensor a = test::random_tensor({64, 512}, 1), b = test::random_tensor({512, 64}, 2);
  test::OneNode reference("MatMul", {test::input(a), test::constant(b)});
  const Tensor expected = reference.run();
  auto kernel_of = [&](std::shared_ptr<Device> device) {
    test::OneNode node("MatMul", {test::input(a), test::constant(b)});
    node.infer();
    PipelineCache pipelines(*device);
    GpuExecutable executable(node.graph(), device, pipelines, "float32", cpu::node_evaluator());
    test::expect_near(executable.run({a})[0], expected, 1e-4f);
    return executable.kernels();
  };
  std::shared_ptr<Device> sim = create_sim_device();
  DeviceLimits uncapped = sim->limits();
  uncapped.simdgroup_matrix_max_macs = 0;
  EXPECT_EQ(kernel_of(sim), std::vector<std::string>{"matmul_tiled_f32"});
  EXPECT_EQ(kernel_of(std::make_shared<StandInGpu>(uncapped)), std::vector<std::string>{"matmul_simdgroup_f32"});
}

TEST(AutoDevice, FallingBackFromMetalOnAppleSaysWhy) {
  const AutoDevice fallback = choose_auto_device({"cpu", "metal-sim"}, true, "this machine has no Metal GPU");
  EXPECT_EQ(fallback.device, "cpu");
  EXPECT_EQ(fallback.notice, "metalnn: device 'auto' runs on 'cpu' because this machine has no Metal GPU");
  const AutoDevice metal = choose_auto_device({"metal", "cpu", "metal-sim"}, true, "");
  EXPECT_EQ(metal.device, "metal");
  EXPECT_EQ(metal.notice, "");
  // Off Apple there is no metal device to expect: nothing to say.
  EXPECT_EQ(choose_auto_device({"cpu", "metal-sim"}, false, "").notice, "");
}

TEST(AutoDevice, UnavailableDevicesNameTheirReason) {
  const auto missing = unavailable_devices();
  EXPECT_EQ(missing.count("metal-sim"), 0u);
#if !defined(__APPLE__)
  ASSERT_EQ(missing.count("metal"), 1u);
  EXPECT_EQ(missing.at("metal"), "device 'metal' is not available: it needs an Apple GPU and a build on macOS or iOS");
#endif
}

}  // namespace
}  // namespace metalnn::gpu
