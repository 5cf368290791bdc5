# Cross-compiling for 64-bit Arm Linux; tools/test_aarch64.sh shows the whole recipe.
# The compiler is clang with --target: GCC supports _Float16 in C++ on aarch64 only from GCC 13, and
# Debian 12 ships GCC 12 (clang-16 is the one tests/fuzz/run_fuzz.sh installs). The C library,
# libstdc++ and the linker come from Debian's g++-aarch64-linux-gnu. Binaries run under
# qemu-aarch64-static (Debian qemu-user-static). Roots of aarch64 libraries built or unpacked
# elsewhere (GoogleTest, OpenBLAS) come in through -DCMAKE_FIND_ROOT_PATH=<dirs>.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(METALNN_AARCH64_TRIPLE aarch64-linux-gnu)
set(METALNN_AARCH64_CLANG_VERSION 16)
set(CMAKE_C_COMPILER clang-${METALNN_AARCH64_CLANG_VERSION})
set(CMAKE_CXX_COMPILER clang++-${METALNN_AARCH64_CLANG_VERSION})
set(CMAKE_C_COMPILER_TARGET ${METALNN_AARCH64_TRIPLE})
set(CMAKE_CXX_COMPILER_TARGET ${METALNN_AARCH64_TRIPLE})

set(METALNN_AARCH64_SYSROOT /usr/${METALNN_AARCH64_TRIPLE})
if(NOT METALNN_AARCH64_SYSROOT IN_LIST CMAKE_FIND_ROOT_PATH)
  list(APPEND CMAKE_FIND_ROOT_PATH ${METALNN_AARCH64_SYSROOT})
endif()
# Programs (python, the kernel translator) come from the host; libraries, headers and CMake packages
# only from the aarch64 roots, so nothing x86-64 is linked by mistake.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest and gtest_discover_tests run the test executables through this. The emulated CPU has no SVE
# or SME, like Apple's M1 to M3: on qemu's full `max` CPU, OpenBLAS picks its SME kernels, and their
# results there are wrong (qemu 7.2, Debian 12).
find_program(METALNN_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(METALNN_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${METALNN_QEMU_AARCH64} -cpu max,sve=off,sme=off -L ${METALNN_AARCH64_SYSROOT})
endif()
