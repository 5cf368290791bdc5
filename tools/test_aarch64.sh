#!/usr/bin/env bash
# The C++ core and its ctest suite cross-built for aarch64, the CPU beside every Apple GPU, and run
# under qemu-user: the cpu device's portable kernels, metal-sim's aarch64 fiber switch, the .metalnn
# reader. Code is generated for Apple's M1 (-mcpu=apple-m1, what Apple clang targets by default on
# arm64), by clang-16 with the C library, libstdc++ and linker of Debian's g++-aarch64-linux-gnu
# (cmake/toolchains/aarch64-linux-gnu.cmake says why not GCC 12).
# Usage: tools/test_aarch64.sh [build-dir, default build/aarch64]
#   METALNN_AARCH64_DEPS  where the aarch64 GoogleTest and OpenBLAS are kept (outside the source tree:
#                         the SDK's CMake package must not point into it); default ~/.cache/metalnn/aarch64
#   METALNN_AARCH64_TIMEOUT  seconds ctest may take in all (default 600)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build/aarch64}"
deps="${METALNN_AARCH64_DEPS:-${XDG_CACHE_HOME:-$HOME/.cache}/metalnn/aarch64}"
toolchain="$root/cmake/toolchains/aarch64-linux-gnu.cmake"
jobs="${METALNN_JOBS:-2}"

# googletest: the sources of libgtest-dev, built below for aarch64.
packages=(g++-aarch64-linux-gnu qemu-user-static clang-16 googletest)
if ! dpkg -s "${packages[@]}" >/dev/null 2>&1; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
mkdir -p "$deps"

# GoogleTest for aarch64, from Debian's sources.
if [ ! -f "$deps/googletest/lib/cmake/GTest/GTestConfig.cmake" ]; then
  cmake -S /usr/src/googletest -B "$build/googletest" "${generator[@]}" -Wno-dev \
    -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release -DBUILD_GMOCK=OFF \
    -DCMAKE_INSTALL_PREFIX="$deps/googletest" >/dev/null
  cmake --build "$build/googletest" -j "$jobs" >/dev/null
  cmake --install "$build/googletest" >/dev/null
fi

# OpenBLAS for aarch64: the manylinux wheel of scipy-openblas32, as pyproject.toml asks for on Linux
# (manylinux_2_28: the older manylinux2014 builds need an aarch64 libz at run time).
if [ ! -f "$deps/openblas/scipy_openblas32/lib/libscipy_openblas.so" ]; then
  wheels="$(mktemp -d)"
  python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_28_aarch64 \
    "scipy-openblas32>=0.3.27" -d "$wheels"
  rm -rf "$deps/openblas"
  python3 -m zipfile -e "$wheels"/scipy_openblas32-*.whl "$deps/openblas"
  rm -rf "$wheels"
fi

cmake -S "$root" -B "$build/metalnn" "${generator[@]}" -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-mcpu=apple-m1 -DCMAKE_CXX_FLAGS=-mcpu=apple-m1 \
  -DCMAKE_FIND_ROOT_PATH="$deps" -DGTest_DIR="$deps/googletest/lib/cmake/GTest" \
  -DMETALNN_OPENBLAS_DIR="$deps/openblas/scipy_openblas32" \
  -DMETALNN_PYTHON=OFF -DMETALNN_BUILD_TESTS=ON >/dev/null
cmake --build "$build/metalnn" -j "$jobs"

# Death tests fork instead of re-executing the binary, which qemu-user cannot do without binfmt_misc.
export GTEST_DEATH_TEST_STYLE=fast
timeout "${METALNN_AARCH64_TIMEOUT:-600}" \
  ctest --test-dir "$build/metalnn" --output-on-failure -j "$jobs" --timeout 300
