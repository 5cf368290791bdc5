// Layout of the .metalnn model file (docs/format.md is the full description). Everything is little-endian;
// the endianness marker lets a reader on another byte order refuse the file instead of misreading it.
#pragma once
#include <cstdint>

#include "core/sizes.h"

namespace metalnn::model_file {

// PNG-style: a non-ASCII first byte and CR LF / Ctrl-Z / LF catch text-mode transfers.
inline constexpr char kMagic[8] = {'\x89', 'M', 'N', 'N', '\r', '\n', '\x1a', '\n'};
// Any change to the layout or to what a fused node means bumps it; readers refuse versions they do
// not know. Version 2 added the Gelu activations, FusedAttention's heads layout and Conv's residual
// input, which a version-1 reader would misread; version-1 files are still read.
inline constexpr uint32_t kVersion = 2;
inline constexpr uint32_t kOldestVersion = 1;
inline constexpr uint32_t kEndianMarker = 0x01020304;

inline constexpr uint64_t kHeaderSize = 64;
// Every blob starts 64-byte aligned (cache line, SIMD loads); large ones start on a 16 KiB page
// (Apple arm64 page size) so Metal can wrap them without a copy. The data section itself starts on a page.
inline constexpr uint64_t kBlobAlignment = 64;
inline constexpr uint64_t kPageAlignment = 16384;
inline constexpr uint64_t kLargeBlobBytes = 16384;

// Bounds that keep hostile files from asking for absurd work; far above any real model.
inline constexpr uint32_t kMaxRank = 32;
using metalnn::kMaxElements;  // the engine-wide limit (core/sizes.h)

// The fixed header at offset 0. Offsets are from the start of the file; sizes in bytes.
struct Header {
  char magic[8];
  uint32_t version;
  uint32_t endian_marker;
  uint64_t file_size;
  uint64_t graph_offset;
  uint64_t graph_size;
  uint64_t data_offset;
  uint64_t data_size;
  uint64_t reserved;  // 0
};
static_assert(sizeof(Header) == kHeaderSize, "the header is 64 bytes on disk");

// Value flags.
inline constexpr uint8_t kValueHasShape = 1;
inline constexpr uint8_t kValueConstant = 2;

// Attribute kinds as stored; numbering is part of the format, independent of Attribute::Kind.
// A Graph attribute (If branches, Loop body) nests a graph record: values, nodes, inputs, outputs.
enum class AttrKind : uint8_t { Int = 1, Float = 2, String = 3, Ints = 4, Floats = 5, Strings = 6, Tensor = 7, Graph = 8 };
// Sub-graphs nest at most this deep, so a hostile file cannot exhaust the reader's stack.
inline constexpr int kMaxSubgraphDepth = 32;

inline constexpr uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace metalnn::model_file
