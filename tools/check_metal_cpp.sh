#!/usr/bin/env bash
# Type-checks the metal-cpp adapter (cpp/gpu/metal/*.cpp) with clang against real metal-cpp headers
# and the stand-in system headers of tools/metal_cpp_stubs/, for macOS and iOS (and the arm64 code
# paths where clang has aarch64 C++ headers), with -Wall -Wextra as errors. It is the only compiler
# that sees that code off Apple.
#
#   bash tools/check_metal_cpp.sh [METAL_CPP_DIR]
#
# METAL_CPP_DIR (or $METALNN_METAL_CPP_DIR) is an unpacked metal-cpp, e.g. the one CMake fetched on a
# Mac (<build>/_deps/metal_cpp-src). Without one, the headers come from the PyPI sdist of
# pymetal-cpp, which ships metal-cpp macOS 15 / iOS 18, pinned by its SHA-256. Without clang or
# without the headers the check is skipped with a message (exit 0).
set -euo pipefail
cd "$(dirname "$0")/.."

SDIST_VERSION=0.1.5
SDIST_SHA256=1118062f635277a2781659fbc4e7e5bac7d565d6948a3461c3b04d6425c15a0e
CACHE=build/metal-cpp-check

skip() { echo "check_metal_cpp: skipped: $*"; exit 0; }

CXX=""
for candidate in clang++-16 clang++; do
  if command -v "$candidate" >/dev/null 2>&1; then CXX=$candidate; break; fi
done
[ -n "$CXX" ] || skip "no clang++ (the adapter uses Apple blocks, which only clang compiles)"

HEADERS=${1:-${METALNN_METAL_CPP_DIR:-}}
if [ -z "$HEADERS" ]; then
  HEADERS=$CACHE/pymetal_cpp-$SDIST_VERSION/thirdparty/metal-cpp
  if [ ! -f "$HEADERS/Metal/Metal.hpp" ]; then
    mkdir -p "$CACHE"
    archive=$CACHE/pymetal_cpp-$SDIST_VERSION.tar.gz
    if [ ! -f "$archive" ] && ! python3 -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
        -d "$CACHE" "pymetal-cpp==$SDIST_VERSION" >"$CACHE/download.log" 2>&1; then
      skip "cannot download the pymetal-cpp sdist from PyPI (see $CACHE/download.log); pass a metal-cpp folder instead"
    fi
    echo "$SDIST_SHA256  $archive" | sha256sum -c --quiet - || { echo "check_metal_cpp: $archive has the wrong SHA-256"; exit 1; }
    tar -xzf "$archive" -C "$CACHE" "pymetal_cpp-$SDIST_VERSION/thirdparty/metal-cpp"
  fi
fi
[ -f "$HEADERS/Metal/Metal.hpp" ] || { echo "check_metal_cpp: no Metal/Metal.hpp under $HEADERS"; exit 1; }

# metal-cpp and the stand-ins are system headers: their own warnings are not the adapter's.
flags=(-std=c++17 -fblocks -fsyntax-only -Wall -Wextra -Werror -isystem "$HEADERS" -isystem tools/metal_cpp_stubs -I cpp)
variants=("macOS:-DTARGET_OS_OSX=1" "iOS:-DTARGET_OS_OSX=0")
# Apple silicon takes metal-cpp's arm64 message-send paths; clang parses them given aarch64 C++ headers.
if echo '#include <string>' | "$CXX" --target=aarch64-linux-gnu -x c++ -fsyntax-only - >/dev/null 2>&1; then
  variants+=("macOS arm64:--target=aarch64-linux-gnu -D__arm64__ -DTARGET_OS_OSX=1")
else
  echo "check_metal_cpp: no aarch64 C++ headers for clang: the arm64 variant is left out"
fi
status=0
for variant in "${variants[@]}"; do
  name=${variant%%:*}
  read -r -a extra <<<"${variant#*:}"
  for source in cpp/gpu/metal/*.cpp; do
    if "$CXX" "${flags[@]}" "${extra[@]}" "$source"; then
      echo "check_metal_cpp: $source ($name): ok"
    else
      echo "check_metal_cpp: $source ($name): FAILED"
      status=1
    fi
  done
done
exit $status
