#!/usr/bin/env bash
# CI check of the C++ SDK: install it from an existing build tree, build examples/ against it with
# find_package(metalnn), convert an ONNX model with `metalnn convert`, run it with metalnn_run and compare
# with the Python API's outputs (bit for bit: same reader, same kernels).
# Usage: examples/build_and_run.sh [build tree, default build/test]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_TREE=${1:-build/test}
SDK=build/sdk
WORK=build/example-run
rm -rf "$SDK" "$WORK" build/example && mkdir -p "$WORK/out"

cmake --install "$BUILD_TREE" --component sdk --prefix "$SDK" >/dev/null
cmake -S examples -B build/example -G Ninja -DCMAKE_PREFIX_PATH="$PWD/$SDK" >/dev/null
cmake --build build/example -j2 >/dev/null

python3 - "$WORK" <<'PY'
import sys, onnx, numpy as np
from metalnn import demo
work = sys.argv[1]
onnx.save(demo.build_classifier(), f"{work}/stripes.onnx")
demo.make_image(vertical=True).tofile(f"{work}/image.bin")
PY
python3 -m metalnn convert "$WORK/stripes.onnx" -o "$WORK/stripes.metalnn"
./build/example/metalnn_run "$WORK/stripes.metalnn" -d cpu -o "$WORK/out" "$WORK/image.bin"

python3 - "$WORK" <<'PY'
import sys, numpy as np, metalnn
work = sys.argv[1]
model = metalnn.load(f"{work}/stripes.metalnn", device="cpu")
image = np.fromfile(f"{work}/image.bin", np.float32).reshape(model.inputs[0].shape)
for name, expected in model.run({model.inputs[0].name: image}).items():
    actual = np.fromfile(f"{work}/out/{name}.bin", expected.dtype).reshape(expected.shape)
    assert actual.tobytes() == expected.tobytes(), f"{name}: C++ {actual} != Python {expected}"
    assert name != "probabilities" or int(np.argmax(actual)) == 0, "vertical stripes misclassified"
print("example: C++ API output matches the Python API")
PY
