// metal-sim micro-benchmark: the cost of one fiber context switch, and the simulated throughput of
// the test GEMM kernels (tests/metal_sim/kernels/gemm_*.metal). Usage: metal_sim_bench [threads]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gpu/device.h"
#include "gpu/sim/runtime/fiber.h"
#include "gpu/sim/sim_device.h"

namespace metal_sim {
KernelLibrary bench_kernels();
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Ping-pong between the main stack and one fiber: each round trip is two switches.
void* g_main_sp = nullptr;
void* g_fiber_sp = nullptr;
long g_rounds = 0;

void ping_pong(void*) {
  for (;;) {
    ++g_rounds;
    metal_sim::metal_sim_switch_context(&g_fiber_sp, g_main_sp);
  }
}

void bench_switch() {
  metal_sim::FiberStack stack(64 << 10);
  g_fiber_sp = metal_sim::prepare_fiber_stack(stack.top(), &ping_pong, nullptr);
  const long rounds = 5'000'000;
  const auto start = Clock::now();
  for (long i = 0; i < rounds; ++i) metal_sim::metal_sim_switch_context(&g_main_sp, g_fiber_sp);
  const double elapsed = seconds_since(start);
  std::printf("fiber switch: %.2f ns per switch (%ld round trips)\n", elapsed * 1e9 / (2.0 * rounds), g_rounds);
}

struct GemmShape {
  uint32_t m, n, k;
};

struct GemmCase {
  const char* kernel;
  metalnn::gpu::Size3 threads;
  metalnn::gpu::Size3 (*groups)(const GemmShape&);
};

void bench_gemm(metalnn::gpu::Device& device, const GemmCase& c, GemmShape s) {
  using namespace metalnn::gpu;
  std::vector<float> a(size_t(s.m) * s.k, 0.5f), b(size_t(s.k) * s.n, 0.25f);
  auto a_buffer = device.new_buffer(a.size() * 4), b_buffer = device.new_buffer(b.size() * 4);
  std::memcpy(a_buffer->contents(), a.data(), a.size() * 4);
  std::memcpy(b_buffer->contents(), b.data(), b.size() * 4);
  auto c_buffer = device.new_buffer(size_t(s.m) * s.n * 4);
  auto pipeline = device.new_pipeline(c.kernel);
  auto run = [&] {
    auto commands = device.new_command_buffer();
    commands->set_pipeline(*pipeline);
    commands->set_buffer(*a_buffer, 0, a_buffer->length(), 0);
    commands->set_buffer(*b_buffer, 0, b_buffer->length(), 1);
    commands->set_buffer(*c_buffer, 0, c_buffer->length(), 2);
    commands->set_bytes(&s, sizeof s, 3);
    commands->dispatch(c.groups(s), c.threads);
    commands->commit_and_wait();
  };
  run();  // warm-up: fiber stacks, page faults
  int iterations = 0;
  const auto start = Clock::now();
  do {
    run();
    ++iterations;
  } while (seconds_since(start) < 0.5);
  const double per_run = seconds_since(start) / iterations;
  std::printf("%-20s %4ux%4ux%4u: %8.3f ms, %7.3f GFLOP/s\n", c.kernel, s.m, s.n, s.k, per_run * 1e3,
              2.0 * s.m * s.n * s.k / per_run * 1e-9);
}

}  // namespace

int main(int argc, char** argv) {
  bench_switch();
  metalnn::gpu::SimDeviceOptions options;
  options.threads = argc > 1 ? unsigned(std::atoi(argv[1])) : 0;
  auto device = metalnn::gpu::create_sim_device(metal_sim::bench_kernels(), options);
  const GemmCase cases[] = {
      {"gemm_tiled_f32", {16, 16, 1}, [](const GemmShape& s) { return metalnn::gpu::Size3{(s.n + 15) / 16, (s.m + 15) / 16, 1}; }},
      {"gemm_blocked_f32", {8, 8, 1}, [](const GemmShape& s) { return metalnn::gpu::Size3{(s.n / 4 + 7) / 8, (s.m / 4 + 7) / 8, 1}; }},
      {"gemm_simdgroup_f32", {32, 1, 1}, [](const GemmShape& s) { return metalnn::gpu::Size3{s.n / 8, s.m / 8, 1}; }},
  };
  for (const GemmCase& c : cases) {
    for (GemmShape s : {GemmShape{128, 128, 128}, GemmShape{256, 256, 256}}) bench_gemm(*device, c, s);
  }
  return 0;
}
