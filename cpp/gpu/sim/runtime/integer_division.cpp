// SIGFPE from integer division in kernel code: see integer_division.h. The handler decodes the
// faulting div/idiv (legacy and REX prefixes, opcode F6/F7, ModRM, SIB, displacement, RIP-relative),
// reads its divisor from the register or memory operand, writes the defined result into
// (E/R)AX and (E/R)DX and resumes after the instruction.
#include "integer_division.h"

#if defined(__x86_64__) && (defined(__linux__) || defined(__APPLE__))
#include <signal.h>
#include <ucontext.h>

#include <cstdint>
#include <cstring>
#include <mutex>

namespace metal_sim {
namespace {

thread_local bool in_kernel_code = false;
struct sigaction previous_action;

// General-purpose register `n` in x86 encoding order (rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15).
uint64_t& gpr(void* context, int n) {
  auto* uc = static_cast<ucontext_t*>(context);
#if defined(__linux__)
  static const int index[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};
  return reinterpret_cast<uint64_t&>(uc->uc_mcontext.gregs[index[n]]);
#else
  auto& s = uc->uc_mcontext->__ss;
  uint64_t* regs[16] = {&s.__rax, &s.__rcx, &s.__rdx, &s.__rbx, &s.__rsp, &s.__rbp, &s.__rsi, &s.__rdi,
                        &s.__r8,  &s.__r9,  &s.__r10, &s.__r11, &s.__r12, &s.__r13, &s.__r14, &s.__r15};
  return *regs[n];
#endif
}

uint64_t& rip(void* context) {
  auto* uc = static_cast<ucontext_t*>(context);
#if defined(__linux__)
  return reinterpret_cast<uint64_t&>(uc->uc_mcontext.gregs[REG_RIP]);
#else
  return uc->uc_mcontext->__ss.__rip;
#endif
}

uint64_t low_bits(uint64_t v, int bits) { return bits == 64 ? v : v & ((uint64_t(1) << bits) - 1); }

// Replaces `value`'s low `bits` with `part` (x86 keeps the rest for 8- and 16-bit results and clears it
// for 32-bit ones).
uint64_t with_low_bits(uint64_t value, uint64_t part, int bits) {
  if (bits == 32) return low_bits(part, 32);
  if (bits == 64) return part;
  const uint64_t mask = (uint64_t(1) << bits) - 1;
  return (value & ~mask) | (part & mask);
}

// Completes the faulting division at rip(context); false when it is not a div/idiv.
bool complete_division(void* context) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(rip(context));
  const uint8_t* const start = p;
  bool operand16 = false, address32 = false;
  for (;; ++p) {
    const uint8_t b = *p;
    if (b == 0x66) {
      operand16 = true;
    } else if (b == 0x67) {
      address32 = true;
    } else if (b == 0x64 || b == 0x65) {
      return false;  // fs/gs-relative divisor: not kernel code
    } else if (!(b == 0xF0 || b == 0xF2 || b == 0xF3 || b == 0x2E || b == 0x36 || b == 0x3E || b == 0x26)) {
      break;
    }
  }
  uint8_t rex = 0;
  if ((*p & 0xF0) == 0x40) rex = *p++;
  const uint8_t opcode = *p++;
  if (opcode != 0xF6 && opcode != 0xF7) return false;
  const uint8_t modrm = *p++;
  const int mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7;
  if (reg != 6 && reg != 7) return false;
  const int bits = opcode == 0xF6 ? 8 : (rex & 8) ? 64 : operand16 ? 16 : 32;

  uint64_t divisor = 0;
  if (mod == 3) {
    const int n = rm | ((rex & 1) << 3);
    if (bits == 8 && !rex && rm >= 4) {
      divisor = (gpr(context, rm - 4) >> 8) & 0xFF;  // ah, ch, dh, bh
    } else {
      divisor = low_bits(gpr(context, n), bits);
    }
  } else {
    uint64_t address = 0;
    bool rip_relative = false;
    if (rm == 4) {
      const uint8_t sib = *p++;
      const int scale = sib >> 6, index = ((sib >> 3) & 7) | ((rex & 2) << 2), base = (sib & 7) | ((rex & 1) << 3);
      if (index != 4) address += gpr(context, index) << scale;
      if ((sib & 7) == 5 && mod == 0) {
        int32_t disp;
        std::memcpy(&disp, p, 4);
        p += 4;
        address += static_cast<int64_t>(disp);
      } else {
        address += gpr(context, base);
      }
    } else if (rm == 5 && mod == 0) {
      rip_relative = true;
    } else {
      address += gpr(context, rm | ((rex & 1) << 3));
    }
    if (mod == 1) {
      address += static_cast<int64_t>(static_cast<int8_t>(*p++));
    } else if (mod == 2 || rip_relative) {
      int32_t disp;
      std::memcpy(&disp, p, 4);
      p += 4;
      address += static_cast<int64_t>(disp);
    }
    if (rip_relative) address += reinterpret_cast<uint64_t>(p);  // the next instruction
    if (address32) address = low_bits(address, 32);
    std::memcpy(&divisor, reinterpret_cast<const void*>(address), bits / 8);  // the CPU read it already
  }

  // The dividend's low half is what C code divided (the high half is its zero or sign extension).
  uint64_t& rax = gpr(context, 0);
  uint64_t& rdx = gpr(context, 2);
  const uint64_t dividend = low_bits(rax, bits);
  // Divisor 0: quotient 0 and remainder the dividend. Otherwise a signed overflow (INT_MIN / -1):
  // the quotient wraps to the dividend and the remainder is 0. Both as aarch64 computes them.
  const uint64_t quotient = divisor == 0 ? 0 : dividend;
  const uint64_t remainder = divisor == 0 ? dividend : 0;
  if (bits == 8) {
    rax = (rax & ~uint64_t(0xFFFF)) | (remainder & 0xFF) << 8 | (quotient & 0xFF);
  } else {
    rax = with_low_bits(rax, quotient, bits);
    rdx = with_low_bits(rdx, remainder, bits);
  }
  rip(context) += static_cast<uint64_t>(p - start);
  return true;
}

void on_sigfpe(int signal, siginfo_t* info, void* context) {
  if (in_kernel_code && (info->si_code == FPE_INTDIV || info->si_code == FPE_INTOVF) && complete_division(context)) {
    return;
  }
  if (previous_action.sa_flags & SA_SIGINFO) {
    if (previous_action.sa_sigaction) {
      previous_action.sa_sigaction(signal, info, context);
      return;
    }
  } else if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN) {
    previous_action.sa_handler(signal);
    return;
  }
  // The default action: the faulting instruction runs again and ends the process.
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  sigaction(SIGFPE, &action, nullptr);
}

void install_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_sigaction = &on_sigfpe;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGFPE, &action, &previous_action);
  });
}

}  // namespace

KernelCodeScope::KernelCodeScope() : outer_(!in_kernel_code) {
  install_handler();
  in_kernel_code = true;
}

KernelCodeScope::~KernelCodeScope() {
  if (outer_) in_kernel_code = false;
}

}  // namespace metal_sim

#else  // aarch64 and others: integer division does not trap

namespace metal_sim {
KernelCodeScope::KernelCodeScope() : outer_(true) {}
KernelCodeScope::~KernelCodeScope() { (void)outer_; }
}  // namespace metal_sim

#endif
