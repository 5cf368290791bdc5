#!/usr/bin/env bash
# The whole test suite from a fresh clone: Debian and Python dependencies, the build, ctest, pytest,
# the simulator tests under AddressSanitizer + UndefinedBehaviorSanitizer, the CPU thread pool under
# ThreadSanitizer, the C++ tests on aarch64 under qemu, the C++ SDK example and the .mnn reader fuzz run.
set -euo pipefail
cd "$(dirname "$0")/.."

# GoogleTest; the aarch64 cross compiler and qemu-user for tools/test_aarch64.sh.
DEBIAN_PACKAGES=(libgtest-dev g++-aarch64-linux-gnu qemu-user-static)
if ! dpkg -s "${DEBIAN_PACKAGES[@]}" >/dev/null 2>&1; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${DEBIAN_PACKAGES[@]}" >/dev/null
fi
python3 -m pip install -q -r tests/requirements.txt

# One build serves the Python module and the C++ tests.
python3 -m pip install -q --no-build-isolation . \
  --config-settings=build-dir=build/test \
  --config-settings=cmake.define.METALNN_BUILD_TESTS=ON
ctest --test-dir build/test --output-on-failure -j2
python3 -m metalnn demo
python3 -m pytest tests/python -q -p no:cacheprovider
# ONNX's own conformance suite: every case of the ops the engine supports on cpu (about 30 s), then
# the float32 cases of the ops metal-sim has kernels for.
METALNN_CONFORMANCE_DEVICE=cpu python3 -m pytest tests/conformance -q -p no:cacheprovider
if python3 -c "import sys, metalnn; sys.exit('metal-sim' not in metalnn.devices())"; then
  METALNN_CONFORMANCE_DEVICE=metal-sim python3 -m pytest tests/conformance -q -p no:cacheprovider
fi
if [ -f tests/metal_sim/run_sanitized.sh ]; then
  bash tests/metal_sim/run_sanitized.sh
fi
bash tests/cpp/run_thread_sanitizer.sh
# The C++ SDK: installed from the build above, examples/ built against it with find_package(metalnn)
# and run on a converted .mnn file; then the .mnn reader under libFuzzer + ASan for 90 seconds.
bash examples/build_and_run.sh build/test
bash tests/fuzz/run_fuzz.sh 90
# The C++ core and ctest suite cross-built for aarch64 (the Mac's CPU) and run under qemu-user
# (after the fuzz run, which installs clang-16 with its libFuzzer runtime).
bash tools/test_aarch64.sh
