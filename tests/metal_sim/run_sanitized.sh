#!/usr/bin/env bash
# Builds the metal-sim tests with AddressSanitizer + UndefinedBehaviorSanitizer in their own build
# directory and runs them (including the out-of-bounds death test that only runs there); then, with
# --product-kernels and on Linux, the product kernels (metal/*.metal): the Python module built with
# both sanitizers into <build-dir>/python-site and the metal-sim cases of the GPU op tests run with
# the ASan runtime preloaded into python (about 30 min on 2 cores: tools/test.sh --full runs it).
# Usage: tests/metal_sim/run_sanitized.sh [--product-kernels] [build-dir]   (default: build/sanitize)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
product_kernels=0
if [ "${1:-}" = --product-kernels ]; then product_kernels=1; shift; fi
build="${1:-$root/build/sanitize}"
jobs="${METALNN_JOBS:-2}"

generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMETALNN_SANITIZE=ON -DMETALNN_PYTHON=OFF -DMETALNN_BUILD_TESTS=ON
cmake --build "$build" --target metal_sim_tests -j "$jobs"

# Fibers switch stacks: ASan is told through __sanitizer_{start,finish}_switch_fiber; leak checking
# stays on, and any UBSan finding is fatal (the top-level adds -fno-sanitize-recover=undefined).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
cd "$build"
ctest -R metal_sim --output-on-failure -j "$jobs"

# The product kernels. The interpreter is not instrumented, so ASan's runtime must be loaded first
# (LD_PRELOAD), with libstdc++ beside it so that ASan finds the real __cxa_throw (else the first C++
# exception aborts); leak checking is off, as Python frees little at exit by design.
if [ $product_kernels = 0 ]; then exit 0; fi
if [ "$(uname)" != Linux ]; then
  echo "run_sanitized.sh: skipped the product kernels: preloading ASan into python is set up for Linux only"
  exit 0
fi
site="$build/python-site"
python3 -m pip install -q --no-build-isolation --no-deps --upgrade --target "$site" "$root" \
  --config-settings=build-dir="$build/python" --config-settings=cmake.build-type=RelWithDebInfo \
  --config-settings=cmake.define.METALNN_SANITIZE=ON --config-settings=cmake.define.METALNN_SIM_ADDRESS_SPACE_CHECK=OFF
blas=$(python3 -c "import scipy_openblas32; print(scipy_openblas32.get_lib_dir())" 2>/dev/null || true)
compiler=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/python/CMakeCache.txt")
cd "$root"
tests=($(cat tests/metal_sim/product_kernel_tests.txt))  # every GPU op family's tests (about 8 min on one core)
# One pytest worker per core (pytest-xdist, from tests/requirements.txt); each worker inherits the preload.
workers=()
if python3 -c "import xdist" 2>/dev/null; then workers=(-n "$jobs"); fi
LD_PRELOAD="$("$compiler" -print-file-name=libasan.so) $("$compiler" -print-file-name=libstdc++.so)" PYTHONPATH="$site" LD_LIBRARY_PATH="$blas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:detect_stack_use_after_return=1" \
  python3 -m pytest "${workers[@]}" "${tests[@]}" -k metal-sim -q -p no:cacheprovider
