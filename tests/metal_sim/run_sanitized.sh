#!/usr/bin/env bash
# Builds the metal-sim tests with AddressSanitizer + UndefinedBehaviorSanitizer in their own build
# directory and runs them (including the out-of-bounds death test that only runs there).
# Usage: tests/metal_sim/run_sanitized.sh [build-dir]   (default: build/sanitize)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
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
