// Runs one threadgroup of a dispatch on the calling OS thread: as a plain loop when the kernel has no
// barriers or SIMD-group collectives, otherwise as cooperative fibers that meet at each barrier or
// collective the way GPU threads do. Divergence and deadlock abort with the kernel and .metal line.
#pragma once
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "../kernel_abi.h"
#include "fiber.h"
#include "race_checker.h"

namespace metal_sim {

constexpr size_t kMaxThreadgroupMemory = 32768;
constexpr unsigned kMaxThreadsPerThreadgroup = 1024;

// A kernel fault (divergent barrier, deadlock, out-of-bounds access...) of a dispatch whose
// `throw_faults` is set; the message names the kernel, threadgroup, thread and what went wrong.
class KernelFault : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One dispatch, as the runtime executes it.
struct DispatchDesc {
  const KernelInfo* kernel = nullptr;
  void* buffers[kMaxBufferBindings] = {};
  size_t buffer_lengths[kMaxBufferBindings] = {};  // the bytes from each binding the kernel may touch
  // The whole buffer each binding lies in (an arena holds many tensors): an access inside it but
  // outside every binding is out of bounds (the race checker reports it).
  void* allocations[kMaxBufferBindings] = {};
  size_t allocation_lengths[kMaxBufferBindings] = {};
  size_t threadgroup_lengths[kMaxBufferBindings] = {};
  uint32_t threadgroups[3] = {1, 1, 1};
  uint32_t threads_per_threadgroup[3] = {1, 1, 1};
  bool reverse_order = false;  // schedule threads (and threadgroups) last to first
  // Threads in the grid (dispatchThreads); 0: threadgroups x threads_per_threadgroup. The last
  // threadgroup of a dimension the grid does not fill is smaller, as on Apple GPUs.
  uint32_t grid[3] = {0, 0, 0};
  // Faults throw KernelFault (out of Executor::run) instead of aborting the process: for kernels
  // whose bugs are the caller's to report (custom kernels), not a broken build.
  bool throw_faults = false;
  const ConstantValue* constants = nullptr;
  unsigned constant_count = 0;
  DispatchRaceLog* race = nullptr;  // set when `kernel` is a race-check copy
};

class ThreadgroupRunner {
 public:
  ThreadgroupRunner();
  ~ThreadgroupRunner();

  // The runner of the calling OS thread.
  static ThreadgroupRunner& for_this_thread();

  void run(const DispatchDesc& dispatch, uint32_t group_index);

  // Hooks behind kernel_abi.h.
  void wait_at_barrier(bool threadgroup_wide, const char* file, unsigned line);
  SimdLanes simd_exchange(const void* value, unsigned size, const char* what, const char* file, unsigned line);
  void* threadgroup_alloc(unsigned site, size_t size, size_t align);
  void name_threadgroup(const void* memory, const char* name);
  void vector_component(const void* vector, unsigned size, const void* component);
  const ConstantValue* function_constant(unsigned index) const;
  [[noreturn]] void fault(const std::string& what) const;

  // Fiber entry; public only so the trampoline can reach it.
  static void fiber_main(void* thread);

 private:
  enum class State : uint8_t { kReady, kWaiting, kDone };
  enum class Wait : uint8_t { kNone, kThreadgroupBarrier, kSimdgroupBarrier, kSimdCollective };
  struct SimThread {
    ThreadgroupRunner* runner = nullptr;
    void* sp = nullptr;
    void* asan_fake_stack = nullptr;
    State state = State::kReady;
    Wait wait = Wait::kNone;
    const char* wait_what = nullptr;
    const char* wait_file = nullptr;
    unsigned wait_line = 0;
    uint32_t collectives = 0;  // simd collectives passed: selects the exchange buffer
    ThreadArgs args{};
  };
  struct SimdgroupExchange {
    alignas(16) unsigned char slots[2][kSimdWidth][kSimdSlotBytes];
    uint32_t active_mask[2];
  };
  struct Site {
    unsigned id;
    void* memory;
  };

  void begin_group(uint32_t group_index);
  void fill_args(uint32_t local_index, ThreadArgs& args) const;
  void run_plain();
  void run_fibers();
  bool release_simdgroups();
  bool release_threadgroup_barrier();
  void switch_to(SimThread& thread);
  void switch_to_scheduler(SimThread& thread);
  [[noreturn]] void exit_fiber(SimThread& thread);
  void wait(Wait kind, const char* what, const char* file, unsigned line);
  void* arena_alloc(size_t size, size_t align);
  std::string describe_waiting() const;
  std::string thread_name(const SimThread& thread) const;

  const DispatchDesc* dispatch_ = nullptr;
  uint32_t group_position_[3] = {};
  uint32_t group_size_[3] = {};  // this threadgroup's threads per dimension (smaller at a grid's edge)
  std::exception_ptr fiber_fault_;  // a KernelFault thrown on a fiber, rethrown by the scheduler
  uint32_t thread_count_ = 0;
  bool plain_ = false;
  uint32_t done_count_ = 0;
  SimThread* current_ = nullptr;
  void* scheduler_sp_ = nullptr;
  [[maybe_unused]] const void* scheduler_stack_bottom_ = nullptr;  // for AddressSanitizer's fiber hooks
  [[maybe_unused]] size_t scheduler_stack_size_ = 0;

  std::vector<std::unique_ptr<FiberStack>> stacks_;
  std::vector<SimThread> threads_;
  std::vector<SimdgroupExchange> simdgroups_;

  std::unique_ptr<unsigned char[]> arena_;
  size_t arena_capacity_ = 0;
  size_t arena_used_ = 0;
  size_t threadgroup_bytes_ = 0;  // counted against the 32 KiB limit, without redzones
  std::vector<Site> sites_;
  void* threadgroup_memory_[kMaxBufferBindings] = {};
  RaceTracker race_;
};

}  // namespace metal_sim
