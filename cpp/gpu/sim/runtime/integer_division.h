// Integer division by zero (and INT_MIN / -1) in kernel code gives a defined value, as on Apple GPUs,
// instead of the SIGFPE an x86-64 CPU raises: while a KernelCodeScope is alive on an OS thread, a
// SIGFPE from a div/idiv instruction is handled by writing the result aarch64 gives (x / 0 = 0,
// x % 0 = x, INT_MIN / -1 = INT_MIN, INT_MIN % -1 = 0) and skipping the instruction. Any other SIGFPE
// goes to the handler installed before. aarch64 does not trap, so there this does nothing.
#pragma once

namespace metal_sim {

class KernelCodeScope {
 public:
  KernelCodeScope();
  ~KernelCodeScope();
  KernelCodeScope(const KernelCodeScope&) = delete;
  KernelCodeScope& operator=(const KernelCodeScope&) = delete;

 private:
  bool outer_;
};

}  // namespace metal_sim
