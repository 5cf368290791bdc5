// Run-time CPU feature checks for kernels compiled with function-level target attributes; the
// library itself stays baseline x86-64.
#pragma once
#include <cstdlib>
#include <string>

namespace metalnn::cpu {

inline bool has_avx2_fma() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
#else
  return false;
#endif
}

inline bool has_avx512() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const bool yes = has_avx2_fma() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl");
  return yes;
#else
  return false;
#endif
}

// The widest kernels a family may run on this CPU, capped by its environment variable
// (avx512|avx2|portable; unset: the widest). Callers keep the answer in a static: read once.
enum class KernelIsa { Portable, Avx2, Avx512 };

inline KernelIsa kernel_isa(const char* env_var) {
  const char* env = std::getenv(env_var);
  const std::string cap = env ? env : "";
  if (has_avx512() && (cap.empty() || cap == "avx512")) return KernelIsa::Avx512;
  if (has_avx2_fma() && cap != "portable") return KernelIsa::Avx2;
  return KernelIsa::Portable;
}

}  // namespace metalnn::cpu
