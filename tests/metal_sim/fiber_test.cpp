// metal-sim's hand-written context switch (cpp/gpu/sim/runtime/context_switch.cpp, one per CPU
// architecture) on its own: every callee-saved register and the floating-point control state survive
// switches in both directions, and a fresh fiber starts on an aligned stack in round-to-nearest.
#include <gtest/gtest.h>

#include <cfenv>
#include <cstdint>
#include <string>

#include "gpu/sim/runtime/fiber.h"

// switch_with_patterns(save_sp, next_sp, seed, out): fills every callee-saved register with seed + i,
// switches away with metal_sim_switch_context, and once switched back stores what those registers
// hold into out[0 .. kPatternRegisters). Written in assembly so that no compiler keeps the values
// elsewhere: a register the switch forgets shows up as another fiber's pattern.
extern "C" void switch_with_patterns(void** save_sp, void* next_sp, uint64_t seed, uint64_t* out);

#if defined(__APPLE__)
#define TEST_SYMBOL(name) "_" #name
#else
#define TEST_SYMBOL(name) #name
#endif

#if defined(__x86_64__)
constexpr int kPatternRegisters = 6;  // rbx, rbp, r12-r15 (System V has no callee-saved vector registers)
asm(".text\n.globl " TEST_SYMBOL(switch_with_patterns) "\n.p2align 4\n" TEST_SYMBOL(switch_with_patterns) ":\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  pushq %rcx\n"  // out; also keeps the stack 16-byte aligned at the call
    "  leaq 1(%rdx), %rbx\n  leaq 2(%rdx), %rbp\n  leaq 3(%rdx), %r12\n"
    "  leaq 4(%rdx), %r13\n  leaq 5(%rdx), %r14\n  leaq 6(%rdx), %r15\n"
    "  callq " TEST_SYMBOL(metal_sim_switch_context) "\n"
    "  popq %rcx\n"
    "  movq %rbx, 0(%rcx)\n  movq %rbp, 8(%rcx)\n  movq %r12, 16(%rcx)\n"
    "  movq %r13, 24(%rcx)\n  movq %r14, 32(%rcx)\n  movq %r15, 40(%rcx)\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
    "  ret\n");
#elif defined(__aarch64__)
constexpr int kPatternRegisters = 19;  // x19-x29 and d8-d15 (AAPCS64)
asm(".text\n.globl " TEST_SYMBOL(switch_with_patterns) "\n.p2align 4\n" TEST_SYMBOL(switch_with_patterns) ":\n"
    "  stp x29, x30, [sp, #-176]!\n"
    "  stp x19, x20, [sp, #16]\n  stp x21, x22, [sp, #32]\n  stp x23, x24, [sp, #48]\n"
    "  stp x25, x26, [sp, #64]\n  stp x27, x28, [sp, #80]\n"
    "  stp d8, d9, [sp, #96]\n  stp d10, d11, [sp, #112]\n  stp d12, d13, [sp, #128]\n  stp d14, d15, [sp, #144]\n"
    "  str x3, [sp, #160]\n"  // out
    "  add x19, x2, #1\n  add x20, x2, #2\n  add x21, x2, #3\n  add x22, x2, #4\n  add x23, x2, #5\n"
    "  add x24, x2, #6\n  add x25, x2, #7\n  add x26, x2, #8\n  add x27, x2, #9\n  add x28, x2, #10\n"
    "  add x29, x2, #11\n"
    "  add x9, x2, #12\n  fmov d8, x9\n  add x9, x2, #13\n  fmov d9, x9\n"
    "  add x9, x2, #14\n  fmov d10, x9\n  add x9, x2, #15\n  fmov d11, x9\n"
    "  add x9, x2, #16\n  fmov d12, x9\n  add x9, x2, #17\n  fmov d13, x9\n"
    "  add x9, x2, #18\n  fmov d14, x9\n  add x9, x2, #19\n  fmov d15, x9\n"
    "  bl " TEST_SYMBOL(metal_sim_switch_context) "\n"
    "  ldr x3, [sp, #160]\n"
    "  stp x19, x20, [x3, #0]\n  stp x21, x22, [x3, #16]\n  stp x23, x24, [x3, #32]\n"
    "  stp x25, x26, [x3, #48]\n  stp x27, x28, [x3, #64]\n  str x29, [x3, #80]\n"
    "  str d8, [x3, #88]\n  stp d9, d10, [x3, #96]\n  stp d11, d12, [x3, #112]\n  stp d13, d14, [x3, #128]\n"
    "  str d15, [x3, #144]\n"
    "  ldp x19, x20, [sp, #16]\n  ldp x21, x22, [sp, #32]\n  ldp x23, x24, [sp, #48]\n"
    "  ldp x25, x26, [sp, #64]\n  ldp x27, x28, [sp, #80]\n"
    "  ldp d8, d9, [sp, #96]\n  ldp d10, d11, [sp, #112]\n  ldp d12, d13, [sp, #128]\n  ldp d14, d15, [sp, #144]\n"
    "  ldp x29, x30, [sp], #176\n"
    "  ret\n");
#else
#error "fiber_test: no register check for this architecture"
#endif

namespace metal_sim {
namespace {

constexpr int kRounds = 50;
constexpr uint64_t kMainSeed = 0x1000, kFiberSeed = 0x2000, kRoundStride = 0x100;

// The rounding mode float arithmetic applies (MXCSR on x86-64, FPCR on aarch64; fegetround reads
// the x87 control word on x86-64), told apart by 1/3 and -1/3, which round differently in each mode.
int arithmetic_rounding() {
  volatile float one = 1.0f, three = 3.0f;
  const float third = one / three, minus_third = -one / three;
  if (minus_third != -third) return third > -minus_third ? FE_UPWARD : FE_DOWNWARD;
  return third == float(1.0 / 3.0) ? FE_TONEAREST : FE_TOWARDZERO;  // the nearest float is above 1/3
}

// What the fiber saw, for the test body to check once it is back (plain arrays: the fiber is left
// suspended at the end, so nothing it owns may need a destructor).
struct Shared {
  void* main_sp = nullptr;
  void* fiber_sp = nullptr;
  uintptr_t frame_misalignment = 1;
  int start_rounding = -1;
  int resumed = 0;  // times main switched back into the fiber
  int rounding_after_switch[kRounds] = {};
  uint64_t fiber_registers[kRounds][kPatternRegisters] = {};
};

[[noreturn]] void fiber_entry(void* arg) {
  auto& s = *static_cast<Shared*>(arg);
  s.frame_misalignment = reinterpret_cast<uintptr_t>(__builtin_frame_address(0)) % 16;
  s.start_rounding = arithmetic_rounding();
  std::fesetround(FE_UPWARD);  // this fiber's own mode, which main must not see
  for (int round = 0;; ++round) {
    switch_with_patterns(&s.fiber_sp, s.main_sp, kFiberSeed + round * kRoundStride, s.fiber_registers[round]);
    s.rounding_after_switch[round] = arithmetic_rounding();  // reached only when main switches back
    ++s.resumed;
  }
}

void expect_pattern(const uint64_t* seen, uint64_t seed) {
  for (int i = 0; i < kPatternRegisters; ++i) EXPECT_EQ(seen[i], seed + i + 1) << "callee-saved register " << i;
}

TEST(metal_sim_fiber, SwitchKeepsCalleeSavedRegistersAndRoundingMode) {
  FiberStack stack(64 * 1024);
  Shared s;
  s.fiber_sp = prepare_fiber_stack(stack.top(), fiber_entry, &s);
  for (int mode : {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD}) {  // the probe itself
    std::fesetround(mode);
    ASSERT_EQ(arithmetic_rounding(), mode);
  }
  std::fesetround(FE_DOWNWARD);
  for (int round = 0; round < kRounds; ++round) {
    uint64_t seen[kPatternRegisters];
    switch_with_patterns(&s.main_sp, s.fiber_sp, kMainSeed + round * kRoundStride, seen);
    SCOPED_TRACE("round " + std::to_string(round));
    expect_pattern(seen, kMainSeed + round * kRoundStride);
    EXPECT_EQ(arithmetic_rounding(), FE_DOWNWARD);
  }
  std::fesetround(FE_TONEAREST);

  EXPECT_EQ(s.frame_misalignment, 0u);
  EXPECT_EQ(s.start_rounding, FE_TONEAREST);  // a fresh fiber does not inherit its creator's mode
  ASSERT_EQ(s.resumed, kRounds - 1);
  for (int round = 0; round < s.resumed; ++round) {
    SCOPED_TRACE("fiber round " + std::to_string(round));
    expect_pattern(s.fiber_registers[round], kFiberSeed + round * kRoundStride);
    EXPECT_EQ(s.rounding_after_switch[round], FE_UPWARD);
  }
}

}  // namespace
}  // namespace metal_sim
