#!/usr/bin/env bash
# The CPU thread pool's tests under ThreadSanitizer: the pool hands jobs to its workers through
# atomics (no lock on the fast path), which only a race detector can vouch for.
# Usage: tests/cpp/run_thread_sanitizer.sh [output-dir]   (default: build/tsan)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-$root/build/tsan}"
mkdir -p "$out"
"${CXX:-c++}" -std=c++17 -O1 -g -fsanitize=thread -I"$root/cpp" \
  "$root/tests/cpp/thread_pool_test.cpp" "$root/cpp/cpu/thread_pool.cpp" \
  -lgtest -lgtest_main -pthread -o "$out/thread_pool_test"
TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1}" "$out/thread_pool_test"
