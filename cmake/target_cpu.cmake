# x86-64-only compile options, decided by what the compiler generates code for rather than by
# CMAKE_SYSTEM_PROCESSOR (which names the host unless a toolchain file says otherwise, and says
# nothing about an Apple universal build): on aarch64 (Apple silicon, Linux), and for a build with
# several CMAKE_OSX_ARCHITECTURES, METALNN_X86_64_OPTIONS stays empty and the portable kernels are used.
include_guard(GLOBAL)
include(CheckCXXSourceCompiles)

check_cxx_source_compiles("
#if !defined(__x86_64__)
#error not x86-64
#endif
int main() { return 0; }" METALNN_TARGET_X86_64)

set(METALNN_X86_64_OPTIONS "")
if(METALNN_TARGET_X86_64 AND CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  # Hardware half <-> float conversion for _Float16. The AVX2/FMA kernels are selected at run time
  # (cpu/cpu_features.h) through function-level target attributes.
  set(METALNN_X86_64_OPTIONS -mf16c)
endif()
