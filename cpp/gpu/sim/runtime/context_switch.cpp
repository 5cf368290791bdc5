// The context switch behind metal-sim's fibers, for x86-64 (System V) and aarch64 (AAPCS64).
// Only callee-saved state is saved: the switch is an ordinary function call for the compiler.
#include <cstdint>
#include <cstring>

#include "fiber.h"

#if defined(__APPLE__)
#define MSIM_SYMBOL(name) "_" #name
#define MSIM_FUNCTION_BEGIN(name) ".globl " MSIM_SYMBOL(name) "\n.p2align 4\n" MSIM_SYMBOL(name) ":\n"
#define MSIM_FUNCTION_END(name) ""
#else
#define MSIM_SYMBOL(name) #name
#define MSIM_FUNCTION_BEGIN(name) \
  ".globl " #name "\n.hidden " #name "\n.type " #name ",@function\n.p2align 4\n" #name ":\n"
#define MSIM_FUNCTION_END(name) ".size " #name ", .-" #name "\n"
#endif

extern "C" void metal_sim_fiber_start();

#if defined(__x86_64__)

// Stack frame of a suspended fiber, lowest address first.
struct SavedFrame {
  uint32_t mxcsr;
  uint16_t x87_control;
  uint16_t padding;
  uint64_t r15, r14, r13, r12, rbx, rbp;
  uint64_t return_address;
};
static_assert(sizeof(SavedFrame) == 64, "the asm below pushes 64 bytes");

asm(".text\n" MSIM_FUNCTION_BEGIN(metal_sim_switch_context)
    "  pushq %rbp\n"
    "  pushq %rbx\n"
    "  pushq %r12\n"
    "  pushq %r13\n"
    "  pushq %r14\n"
    "  pushq %r15\n"
    "  subq $8, %rsp\n"
    "  stmxcsr (%rsp)\n"
    "  fnstcw 4(%rsp)\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  ldmxcsr (%rsp)\n"
    "  fldcw 4(%rsp)\n"
    "  addq $8, %rsp\n"
    "  popq %r15\n"
    "  popq %r14\n"
    "  popq %r13\n"
    "  popq %r12\n"
    "  popq %rbx\n"
    "  popq %rbp\n"
    "  ret\n" MSIM_FUNCTION_END(metal_sim_switch_context)
    // A fresh fiber 'returns' here with its argument in r12 and its entry function in r13.
    MSIM_FUNCTION_BEGIN(metal_sim_fiber_start)
    "  movq %r12, %rdi\n"
    "  callq *%r13\n"
    "  ud2\n" MSIM_FUNCTION_END(metal_sim_fiber_start));

void* metal_sim::prepare_fiber_stack(void* stack_top, void (*entry)(void*), void* arg) {
  auto top = reinterpret_cast<uintptr_t>(stack_top) & ~uintptr_t(15);
  auto* frame = reinterpret_cast<SavedFrame*>(top - sizeof(SavedFrame));  // leaves top 16-aligned
  std::memset(static_cast<void*>(frame), 0, sizeof(SavedFrame));
  frame->mxcsr = 0x1F80;        // default: all exceptions masked, round to nearest
  frame->x87_control = 0x037F;  // default x87 control word
  frame->r12 = reinterpret_cast<uint64_t>(arg);
  frame->r13 = reinterpret_cast<uint64_t>(entry);
  frame->return_address = reinterpret_cast<uint64_t>(&metal_sim_fiber_start);
  return frame;
}

#elif defined(__aarch64__)

struct SavedFrame {
  uint64_t x19, x20, x21, x22, x23, x24, x25, x26, x27, x28, x29, x30;
  uint64_t d8, d9, d10, d11, d12, d13, d14, d15;
  uint64_t fpcr, padding;
};
static_assert(sizeof(SavedFrame) == 176, "the asm below reserves 176 bytes");

asm(".text\n" MSIM_FUNCTION_BEGIN(metal_sim_switch_context)
    "  sub sp, sp, #176\n"
    "  stp x19, x20, [sp, #0]\n"
    "  stp x21, x22, [sp, #16]\n"
    "  stp x23, x24, [sp, #32]\n"
    "  stp x25, x26, [sp, #48]\n"
    "  stp x27, x28, [sp, #64]\n"
    "  stp x29, x30, [sp, #80]\n"
    "  stp d8, d9, [sp, #96]\n"
    "  stp d10, d11, [sp, #112]\n"
    "  stp d12, d13, [sp, #128]\n"
    "  stp d14, d15, [sp, #144]\n"
    "  mrs x9, fpcr\n"
    "  str x9, [sp, #160]\n"
    "  mov x9, sp\n"
    "  str x9, [x0]\n"
    "  mov sp, x1\n"
    "  ldp x19, x20, [sp, #0]\n"
    "  ldp x21, x22, [sp, #16]\n"
    "  ldp x23, x24, [sp, #32]\n"
    "  ldp x25, x26, [sp, #48]\n"
    "  ldp x27, x28, [sp, #64]\n"
    "  ldp x29, x30, [sp, #80]\n"
    "  ldp d8, d9, [sp, #96]\n"
    "  ldp d10, d11, [sp, #112]\n"
    "  ldp d12, d13, [sp, #128]\n"
    "  ldp d14, d15, [sp, #144]\n"
    "  ldr x9, [sp, #160]\n"
    "  msr fpcr, x9\n"
    "  add sp, sp, #176\n"
    "  ret\n" MSIM_FUNCTION_END(metal_sim_switch_context)
    // A fresh fiber 'returns' here (x30) with its argument in x19 and its entry function in x20.
    MSIM_FUNCTION_BEGIN(metal_sim_fiber_start)
    "  mov x0, x19\n"
    "  blr x20\n"
    "  brk #0\n" MSIM_FUNCTION_END(metal_sim_fiber_start));

void* metal_sim::prepare_fiber_stack(void* stack_top, void (*entry)(void*), void* arg) {
  auto top = reinterpret_cast<uintptr_t>(stack_top) & ~uintptr_t(15);
  auto* frame = reinterpret_cast<SavedFrame*>(top - sizeof(SavedFrame));
  std::memset(static_cast<void*>(frame), 0, sizeof(SavedFrame));
  frame->x19 = reinterpret_cast<uint64_t>(arg);
  frame->x20 = reinterpret_cast<uint64_t>(entry);
  frame->x30 = reinterpret_cast<uint64_t>(&metal_sim_fiber_start);
  return frame;
}

#else
#error "metal-sim: no fiber context switch for this architecture (x86-64 and aarch64 only)"
#endif
