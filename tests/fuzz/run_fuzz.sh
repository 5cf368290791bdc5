#!/usr/bin/env bash
# Fuzzes the .metalnn reader for a bounded time under AddressSanitizer + UBSan with libFuzzer, starting
# from a seed corpus of real .metalnn files written by metalnn (so the Python package must be installed).
# Any crash, sanitizer report, leak or allocation over 256 MiB fails the run; libFuzzer then leaves
# the input as build/fuzz/crash-* for `build/fuzz/tests/fuzz/model_file_reader_fuzzer <file>` to replay.
# Usage: tests/fuzz/run_fuzz.sh [seconds, default 90]
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-90}
CLANG_VERSION=16  # the first Debian clang with _Float16 on x86-64, which the core uses

if ! command -v clang++-$CLANG_VERSION >/dev/null || ! dpkg -s libclang-rt-$CLANG_VERSION-dev >/dev/null 2>&1; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    clang-$CLANG_VERSION libclang-rt-$CLANG_VERSION-dev >/dev/null
fi

BUILD=build/fuzz
cmake -S . -B $BUILD -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-$CLANG_VERSION -DCMAKE_CXX_COMPILER=clang++-$CLANG_VERSION \
  -DMETALNN_FUZZ=ON -DMETALNN_PYTHON=OFF >/dev/null
cmake --build $BUILD --target model_file_reader_fuzzer -j2 >/dev/null

python3 tests/fuzz/make_seeds.py $BUILD/seeds
mkdir -p $BUILD/corpus
status=0
$BUILD/tests/fuzz/model_file_reader_fuzzer $BUILD/corpus $BUILD/seeds -artifact_prefix=$BUILD/ \
  -max_total_time="$DURATION" -rss_limit_mb=2048 -malloc_limit_mb=256 -timeout=10 \
  -print_final_stats=1 >$BUILD/fuzz.log 2>&1 || status=$?
if [ $status -ne 0 ]; then
  tail -n 80 $BUILD/fuzz.log
  exit $status
fi
grep -E "^(Done|stat::(number_of_executed_units|new_units_added|peak_rss_mb))" $BUILD/fuzz.log
