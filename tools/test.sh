#!/usr/bin/env bash
# The whole test suite from a fresh clone: Debian and Python dependencies, the build, ctest, pytest,
# the simulator tests under AddressSanitizer + UndefinedBehaviorSanitizer, the C++ SDK example and
# the .mnn reader fuzz run.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! dpkg -s libgtest-dev >/dev/null 2>&1; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgtest-dev >/dev/null
fi
python3 -m pip install -q -r tests/requirements.txt

# One build serves the Python module and the C++ tests.
python3 -m pip install -q --no-build-isolation . \
  --config-settings=build-dir=build/test \
  --config-settings=cmake.define.METALNN_BUILD_TESTS=ON
ctest --test-dir build/test --output-on-failure -j2
python3 -m metalnn demo
python3 -m pytest tests/python -q -p no:cacheprovider
if [ -f tests/metal_sim/run_sanitized.sh ]; then
  bash tests/metal_sim/run_sanitized.sh
fi
# The C++ SDK: installed from the build above, examples/ built against it with find_package(metalnn)
# and run on a converted .mnn file; then the .mnn reader under libFuzzer + ASan for 90 seconds.
bash examples/build_and_run.sh build/test
bash tests/fuzz/run_fuzz.sh 90
