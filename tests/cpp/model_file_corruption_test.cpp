// Each class of damage to a .metalnn file gives ModelError naming what is wrong, never a crash: truncation
// at every byte and section boundary, wrong magic/marker/version, huge counts, offsets past the end,
// overlapping blobs, bad dtypes, ranks, shapes and value ids. Field positions follow docs/format.md.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <random>

#include "core/error.h"
#include "core/model_file_format.h"
#include "core/model_file_reader.h"
#include "core/model_file_writer.h"
#include "model_file_test_graphs.h"

using namespace metalnn;
using namespace metalnn::testing;

namespace {

// A valid file of small_cnn() with accessors for the fields the tests damage.
class Image {
 public:
  Image() : bytes_(model_file_bytes(small_cnn())) { std::memcpy(&header_, bytes_.data(), sizeof header_); }

  std::string& bytes() { return bytes_; }
  const model_file::Header& header() const { return header_; }

  template <typename T>
  T get(size_t offset) const {
    T v;
    std::memcpy(&v, bytes_.data() + offset, sizeof v);
    return v;
  }
  template <typename T>
  void set(size_t offset, T v) {
    std::memcpy(&bytes_[offset], &v, sizeof v);
  }
  // Header fields by name keep the tests readable.
  void set_header(uint64_t model_file::Header::*field, uint64_t v) {
    model_file::Header h = get<model_file::Header>(0);
    h.*field = v;
    set(0, h);
  }

  // The graph section starts with the blob table, then the values (docs/format.md).
  static constexpr size_t kBlobCount = 64;
  static size_t blob_offset_field(int i) { return 68 + 16 * i; }
  static size_t blob_size_field(int i) { return 76 + 16 * i; }
  static constexpr size_t kValueCount = 68 + 16 * 4;  // small_cnn has four constants
  // Value 0 is the input "x": name length, "x", dtype, flags, rank, dims.
  static constexpr size_t kXDtype = kValueCount + 4 + 4 + 1;
  static constexpr size_t kXFlags = kXDtype + 4;
  static constexpr size_t kXRank = kXFlags + 1;
  static constexpr size_t kXDims = kXRank + 4;
  // Value 1 is the constant "conv.w" [4, 3, 3, 3].
  static constexpr size_t kConvW = kXDims + 4 * 8;
  static constexpr size_t kConvWName = kConvW + 4;
  static constexpr size_t kConvWDtype = kConvWName + 6;
  static constexpr size_t kConvWDims = kConvWDtype + 4 + 1 + 4;
  static constexpr size_t kConvWBlob = kConvWDims + 4 * 8;

  // Offset of a node record, found by its op type and name strings.
  size_t node(const std::string& op, const std::string& name) const {
    std::string marker = length_prefixed(op) + length_prefixed(name);
    size_t at = bytes_.find(marker);
    EXPECT_NE(at, std::string::npos) << op << " " << name;
    return at;
  }
  // Within a node record: the input list follows the two strings.
  static size_t inputs_of(size_t node, const std::string& op, const std::string& name) {
    return node + 8 + op.size() + name.size();
  }

 private:
  static std::string length_prefixed(const std::string& s) {
    uint32_t n = static_cast<uint32_t>(s.size());
    return std::string(reinterpret_cast<const char*>(&n), 4) + s;
  }
  std::string bytes_;
  model_file::Header header_{};
};

// Loading must fail with ModelError whose message contains `expected`.
void expect_rejected(const std::string& bytes, const std::string& expected, size_t size = std::string::npos) {
  size = std::min(size, bytes.size());
  try {
    load_model_memory(bytes.data(), size);
    ADD_FAILURE() << "loaded a damaged file; expected an error containing '" << expected << "'";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
}

constexpr uint32_t kHuge32 = std::numeric_limits<uint32_t>::max();
constexpr uint64_t kHuge64 = std::numeric_limits<uint64_t>::max();

}  // namespace

TEST(ModelFileCorruption, TheUndamagedImageLoads) {
  Image img;
  Graph g = load_model_memory(img.bytes().data(), img.bytes().size());
  EXPECT_EQ(g.nodes().size(), 5u);
  EXPECT_EQ(img.get<uint32_t>(Image::kBlobCount), 4u);
  EXPECT_EQ(img.get<int32_t>(Image::kXDtype), static_cast<int32_t>(DType::Float32));
  EXPECT_EQ(img.get<uint32_t>(Image::kConvWBlob), 0u);
}

TEST(ModelFileCorruption, TruncationAtEveryByteIsRejected) {
  Image img;
  for (size_t size = 0; size < img.bytes().size(); ++size)
    expect_rejected(img.bytes(), size < model_file::kHeaderSize ? "shorter than the 64-byte header" : "(truncated)", size);
}

TEST(ModelFileCorruption, TruncationAtSectionBoundariesWithAConsistentHeader) {
  // The header is rewritten to match the shorter section, so the reader has to find the damage itself:
  // a graph section cut short (the data section kept), or a file cut inside the data section.
  Image img;
  const model_file::Header h = img.header();
  const uint64_t graph_end = h.graph_offset + h.graph_size;
  std::vector<uint64_t> boundaries = {h.graph_offset, Image::kValueCount, Image::kConvW, graph_end - 8,
                                      h.data_offset};
  for (int i = 0; i < 4; ++i) {
    uint64_t blob = h.data_offset + img.get<uint64_t>(Image::blob_offset_field(i));
    boundaries.push_back(blob);
    boundaries.push_back(blob + img.get<uint64_t>(Image::blob_size_field(i)) - 1);
  }
  for (uint64_t cut : boundaries) {
    SCOPED_TRACE("cut at byte " + std::to_string(cut));
    Image damaged;
    if (cut < graph_end) {
      damaged.set_header(&model_file::Header::graph_size, cut - h.graph_offset);
      expect_rejected(damaged.bytes(), "left in the graph section");
    } else {
      damaged.bytes().resize(cut);
      damaged.set_header(&model_file::Header::file_size, cut);
      damaged.set_header(&model_file::Header::data_size, cut - h.data_offset);
      expect_rejected(damaged.bytes(), "past the end of the");
    }
  }
}

TEST(ModelFileCorruption, GraphSectionCutAtEveryByte) {
  Image img;
  const uint64_t full = img.header().graph_size;
  for (uint64_t size = 0; size < full; ++size) {
    img.set_header(&model_file::Header::graph_size, size);
    expect_rejected(img.bytes(), "graph section");
  }
}

TEST(ModelFileCorruption, HeaderDamage) {
  {
    Image img;
    img.bytes()[1] = 'X';
    expect_rejected(img.bytes(), "wrong magic");
  }
  {
    Image img;
    img.set<uint32_t>(12, 0x04030201);
    expect_rejected(img.bytes(), "byte-order marker");
  }
  {
    Image img;
    img.set<uint32_t>(8, model_file::kVersion + 1);
    expect_rejected(img.bytes(), "is newer than this reader");
  }
  {
    Image img;
    img.set<uint32_t>(8, 0);
    expect_rejected(img.bytes(), "format version 0 is not valid");
  }
  {
    Image img;
    img.set_header(&model_file::Header::reserved, 1);
    expect_rejected(img.bytes(), "reserved");
  }
  {
    Image img;
    img.bytes().append(64, '\0');
    expect_rejected(img.bytes(), "(trailing bytes)");
  }
}

TEST(ModelFileCorruption, OffsetsPastTheEnd) {
  const std::vector<std::pair<uint64_t model_file::Header::*, uint64_t>> cases = {
      {&model_file::Header::graph_offset, 1u << 30}, {&model_file::Header::graph_offset, 8},
      {&model_file::Header::graph_size, kHuge64 - 32}, {&model_file::Header::data_offset, 1u << 30},
      {&model_file::Header::data_offset, 64},  // inside the graph section
      {&model_file::Header::data_offset, 16400},  // not 64-byte aligned
      {&model_file::Header::data_size, kHuge64 - 16000}};
  for (const auto& [field, value] : cases) {
    Image img;
    img.set_header(field, value);
    expect_rejected(img.bytes(), "header:");
  }
  {
    Image img;
    img.set<uint64_t>(Image::blob_offset_field(3), 1u << 20);
    expect_rejected(img.bytes(), "blob 3: [1048576, +");
  }
  {
    Image img;  // offset + size wraps around 2^64: must not pass the bounds check
    img.set<uint64_t>(Image::blob_size_field(3), kHuge64 - img.get<uint64_t>(Image::blob_offset_field(3)) + 1);
    expect_rejected(img.bytes(), "past the end of the");
  }
}

TEST(ModelFileCorruption, OverlappingAndMisalignedBlobs) {
  {
    Image img;
    img.set<uint64_t>(Image::blob_offset_field(1), img.get<uint64_t>(Image::blob_offset_field(0)));
    expect_rejected(img.bytes(), "blob 1: starts at 0, overlapping the previous blob");
  }
  {
    Image img;
    img.set<uint64_t>(Image::blob_offset_field(1), img.get<uint64_t>(Image::blob_offset_field(1)) + 4);
    expect_rejected(img.bytes(), "is not 64-byte aligned");
  }
  {
    Image img;  // a constant whose shape needs more bytes than its blob has
    img.set<uint64_t>(Image::blob_size_field(0), img.get<uint64_t>(Image::blob_size_field(0)) - 4);
    expect_rejected(img.bytes(), "value 1 'conv.w': float32 [4, 3, 3, 3] needs 432 bytes but blob 0 has 428");
  }
  {
    Image img;
    img.set<uint32_t>(Image::kConvWBlob, 4);
    expect_rejected(img.bytes(), "blob index 4 is past the 4 blobs");
  }
}

TEST(ModelFileCorruption, HugeCountsAreCappedByTheBytesLeft) {
  Image ref;
  size_t conv = ref.node("Conv", "conv");
  size_t conv_inputs = Image::inputs_of(conv, "Conv", "conv");
  const std::vector<std::pair<size_t, std::string>> counts = {
      {Image::kBlobCount, "blob count is 4294967295"},
      {Image::kValueCount, "value count is 4294967295"},
      {Image::kValueCount + 4, "value 0: name length is 4294967295"},
      {Image::kXRank, "value 0 'x': rank is 4294967295"},
      {conv, "node 0: op type length is 4294967295"},
      {conv_inputs, "node 0 Conv 'conv': input is 4294967295"},
      {conv_inputs + 4 * 4, "node 0 Conv 'conv': output is 4294967295"},
      {conv_inputs + 4 * 4 + 8, "node 0 Conv 'conv': attribute count is 4294967295"},
  };
  for (const auto& [field, message] : counts) {
    Image img;
    img.set<uint32_t>(field, kHuge32);
    expect_rejected(img.bytes(), message + ", more than the");
  }
  {
    Image img;  // the count of the first attribute's ints ("kernel_shape", 2 ints)
    size_t ints = conv_inputs + 4 * 4 + 8 + 4 + 4 + std::string("kernel_shape").size() + 1;
    ASSERT_EQ(img.get<uint32_t>(ints), 2u);
    img.set<uint32_t>(ints, kHuge32);
    expect_rejected(img.bytes(), "attribute 'kernel_shape': int count is 4294967295");
  }
}

TEST(ModelFileCorruption, BadDtypesRanksAndShapes) {
  const std::vector<std::tuple<size_t, int64_t, int, std::string>> cases = {
      // offset, value, byte width, expected message
      {Image::kXDtype, 99, 4, "value 0 'x': unknown dtype 99"},
      {Image::kConvWDtype, 0, 4, "value 1 'conv.w': a constant must have a dtype"},
      {Image::kXFlags, 0x80, 1, "unknown flags 128"},
      {Image::kXFlags, model_file::kValueConstant, 1, "a constant must have a shape"},
      {Image::kXRank, 33, 4, "value 0 'x': rank 33 exceeds 32"},
      {Image::kXDims, -2, 8, "value 0 'x': dimension 0 is -2"},
      {Image::kConvWDims, -1, 8, "value 1 'conv.w': dimension 0 is -1"},
      {Image::kConvWDims, int64_t{1} << 41, 8, "dimension 0 is 2199023255552"},
  };
  for (const auto& [offset, value, width, message] : cases) {
    Image img;
    if (width == 1) img.set<uint8_t>(offset, static_cast<uint8_t>(value));
    else if (width == 4) img.set<int32_t>(offset, static_cast<int32_t>(value));
    else img.set<int64_t>(offset, value);
    expect_rejected(img.bytes(), message);
  }
  {
    Image img;  // 2^20 * 2^20 * 2^10 elements: each dimension is plausible, the product is not
    img.set<int64_t>(Image::kXDims, int64_t{1} << 20);
    img.set<int64_t>(Image::kXDims + 8, int64_t{1} << 20);
    img.set<int64_t>(Image::kXDims + 16, int64_t{1} << 10);
    expect_rejected(img.bytes(), "shape has more than");
  }
}

TEST(ModelFileCorruption, BrokenReferencesBetweenRecords) {
  Image ref;
  size_t conv_inputs = Image::inputs_of(ref.node("Conv", "conv"), "Conv", "conv");
  size_t relu_inputs = Image::inputs_of(ref.node("Relu", "relu"), "Relu", "relu");
  {
    Image img;
    img.set<int32_t>(conv_inputs + 4, 999);
    expect_rejected(img.bytes(), "node 0 Conv 'conv': input 0 refers to value 999 of 10");
  }
  {
    Image img;
    img.set<int32_t>(conv_inputs + 4, -2);
    expect_rejected(img.bytes(), "input 0 refers to value -2");
  }
  {
    Image img;  // Relu writes the Conv's output too
    int32_t conv_out = img.get<int32_t>(conv_inputs + 4 * 4 + 4);
    img.set<int32_t>(relu_inputs + 4 + 4 + 4, conv_out);
    expect_rejected(img.bytes(), "value 'c' is produced by both node 0 Conv 'conv' and node 1 Relu 'relu'");
  }
  {
    Image img;  // a node that writes into a constant
    img.set<int32_t>(relu_inputs + 4 + 4 + 4, 1);
    expect_rejected(img.bytes(), "overwrites constant 'conv.w'");
  }
  {
    Image img;  // "conv.b" renamed "conv.w"
    size_t at = img.bytes().find("conv.b");
    img.bytes()[at + 5] = 'w';
    expect_rejected(img.bytes(), "value 2 'conv.w': name is used twice");
  }
  {
    Image img;  // the graph output list is the last thing in the graph section
    uint64_t end = img.header().graph_offset + img.header().graph_size;
    img.set<int32_t>(end - 4, 10);
    expect_rejected(img.bytes(), "graph output 0 refers to value 10 of 10");
  }
  {
    Image img;  // the graph input becomes a constant
    uint64_t end = img.header().graph_offset + img.header().graph_size;
    img.set<int32_t>(end - 12, 1);
    expect_rejected(img.bytes(), "graph input 'conv.w' is a constant");
  }
  {
    Image img;  // first attribute kind byte of the Conv
    size_t kind = conv_inputs + 4 * 4 + 8 + 4 + 4 + std::string("kernel_shape").size();
    img.set<uint8_t>(kind, 0);
    expect_rejected(img.bytes(), "attribute 'kernel_shape': unknown attribute kind 0");
  }
  {
    Image img;  // the graph section claims 4 bytes of the padding after it
    img.set_header(&model_file::Header::graph_size, img.header().graph_size + 4);
    expect_rejected(img.bytes(), "4 unused bytes at the end");
  }
}

TEST(ModelFileCorruption, RandomDamageNeverCrashes) {
  // Seeded, so a failure reproduces; the fuzz job (tests/fuzz) explores far more under ASan.
  Image ref;
  std::mt19937 rng(12345);
  const size_t graph_end = ref.header().graph_offset + ref.header().graph_size;
  int loaded = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bytes = ref.bytes();
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      size_t at = rng() % graph_end;  // damage in the data section is just different weights
      bytes[at] = static_cast<char>(rng() % 3 == 0 ? 0xff : bytes[at] ^ (1 << (rng() % 8)));
    }
    try {
      load_model_memory(bytes.data(), bytes.size());
      ++loaded;  // e.g. a changed name or attribute value: still a well-formed file
    } catch (const ModelError&) {
    }
  }
  EXPECT_LT(loaded, 3000);
}

namespace {

// y = If(c) { x + x } else { <nested> }: `depth` Ifs, each else_branch holding the next, reading x
// from the outermost graph through every level.
std::shared_ptr<const Graph> nested_branch(int depth) {
  auto g = std::make_shared<Graph>();
  g->inputs().push_back(g->add_value("c", DType::Bool));
  g->inputs().push_back(g->add_value("x", DType::Float32));
  if (depth == 0) {
    g->add_node(node(*g, "Add", "add", {"x", "x"}, {"y"}));
  } else {
    Node n = node(*g, "If", "if" + std::to_string(depth), {"c", "c", "x"}, {"y"});
    n.attrs.set("then_branch", Attribute::make_graph(nested_branch(0)));
    n.attrs.set("else_branch", Attribute::make_graph(nested_branch(depth - 1)));
    g->add_node(std::move(n));
  }
  g->outputs().push_back(g->find_value("y"));
  return g;
}

Graph nested_if_model(int depth) {
  Graph g = *nested_branch(depth);
  g.inputs().clear();
  for (const char* name : {"c", "x"}) {
    Value& v = g.value(g.find_value(name));
    v.has_shape = true;
    v.shape = {};
    g.inputs().push_back(g.find_value(name));
  }
  return g;
}

int nesting(const Graph& g) {
  int deepest = 0;
  for (const Node& n : g.nodes())
    for (const auto& [name, a] : n.attrs.all())
      if (a.kind == Attribute::Kind::Graph) deepest = std::max(deepest, 1 + nesting(*a.g));
  return deepest;
}

}  // namespace

TEST(ModelFileCorruption, SubGraphsRoundTrip) {
  const std::string bytes = model_file_bytes(nested_if_model(5));
  Graph read = load_model_memory(bytes.data(), bytes.size());
  EXPECT_EQ(nesting(read), 5);
  EXPECT_EQ(model_file_bytes(read), bytes);
}

TEST(ModelFileCorruption, SubGraphsNestedTooDeepAreRejected) {
  const std::string ok = model_file_bytes(nested_if_model(model_file::kMaxSubgraphDepth));
  EXPECT_NO_THROW(load_model_memory(ok.data(), ok.size()));
  const std::string deep = model_file_bytes(nested_if_model(model_file::kMaxSubgraphDepth + 1));
  expect_rejected(deep, "sub-graphs nest deeper than 32 levels");
}

TEST(ModelFileCorruption, RandomDamageInSubGraphsNeverCrashes) {
  const std::string ref = model_file_bytes(nested_if_model(3));
  std::mt19937 rng(777);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bytes = ref;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      size_t at = model_file::kHeaderSize + rng() % (bytes.size() - model_file::kHeaderSize);
      bytes[at] = static_cast<char>(rng() % 3 == 0 ? 0xff : bytes[at] ^ (1 << (rng() % 8)));
    }
    try {
      load_model_memory(bytes.data(), bytes.size());
    } catch (const ModelError&) {
    }
  }
}
