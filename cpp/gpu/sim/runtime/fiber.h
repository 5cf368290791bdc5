// Fibers for simulated GPU threads: mmap'd stacks with a guard page and a hand-written context
// switch (callee-saved registers only, ~10x cheaper than ucontext, which also saves the signal mask).
#pragma once
#include <cstddef>

namespace metal_sim {

extern "C" {
// Pushes the callee-saved registers, stores the stack pointer in *save_sp, switches to next_sp and
// pops the registers saved there.
void metal_sim_switch_context(void** save_sp, void* next_sp);
}

// Lays out a fresh stack so that the first switch to the returned stack pointer calls entry(arg).
// entry must never return.
void* prepare_fiber_stack(void* stack_top, void (*entry)(void*), void* arg);

class FiberStack {
 public:
  explicit FiberStack(size_t usable_bytes);
  ~FiberStack();
  FiberStack(const FiberStack&) = delete;
  FiberStack& operator=(const FiberStack&) = delete;

  void* bottom() const { return usable_; }
  size_t size() const { return usable_bytes_; }
  void* top() const { return static_cast<char*>(usable_) + usable_bytes_; }

 private:
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
  void* usable_ = nullptr;
  size_t usable_bytes_ = 0;
};

}  // namespace metal_sim
