// .metalnn round trips: the graph comes back field for field, a compiled model gives bit-identical outputs,
// and weights are used in place from the mapping rather than copied.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/model_file_format.h"
#include "core/model_file_reader.h"
#include "core/model_file_writer.h"
#include "engine/model.h"
#include "model_file_test_graphs.h"

using namespace metalnn;
using namespace metalnn::testing;

namespace {

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

void expect_same_attribute(const Attribute& a, const Attribute& b, const std::string& name) {
  SCOPED_TRACE("attribute " + name);
  ASSERT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.i, b.i);
  EXPECT_EQ(a.f, b.f);
  EXPECT_EQ(a.s, b.s);
  EXPECT_EQ(a.ints, b.ints);
  EXPECT_EQ(a.floats, b.floats);
  EXPECT_EQ(a.strings, b.strings);
  if (a.kind == Attribute::Kind::Tensor) EXPECT_TRUE(same_bytes(a.t, b.t));
}

// `loaded` equals `original` with unreferenced values dropped: compare through names.
void expect_same_graph(const Graph& original, const Graph& loaded) {
  auto name_of = [](const Graph& g, int v) { return v < 0 ? std::string("<none>") : g.value(v).name; };
  ASSERT_EQ(original.nodes().size(), loaded.nodes().size());
  for (size_t i = 0; i < original.nodes().size(); ++i) {
    const Node& a = original.nodes()[i];
    const Node& b = loaded.nodes()[i];
    SCOPED_TRACE(a.label());
    EXPECT_EQ(a.op_type, b.op_type);
    EXPECT_EQ(a.name, b.name);
    ASSERT_EQ(a.inputs.size(), b.inputs.size());
    for (size_t k = 0; k < a.inputs.size(); ++k) EXPECT_EQ(name_of(original, a.inputs[k]), name_of(loaded, b.inputs[k]));
    ASSERT_EQ(a.outputs.size(), b.outputs.size());
    for (size_t k = 0; k < a.outputs.size(); ++k) EXPECT_EQ(name_of(original, a.outputs[k]), name_of(loaded, b.outputs[k]));
    ASSERT_EQ(a.attrs.all().size(), b.attrs.all().size());
    for (const auto& [name, attr] : a.attrs.all()) {
      ASSERT_TRUE(b.attrs.has(name)) << name;
      expect_same_attribute(attr, *b.attrs.find(name), name);
    }
  }
  for (int v = 0; v < loaded.num_values(); ++v) {
    const Value& b = loaded.value(v);
    int ov = original.find_value(b.name);
    ASSERT_GE(ov, 0) << b.name;
    const Value& a = original.value(ov);
    EXPECT_EQ(a.dtype, b.dtype) << b.name;
    EXPECT_EQ(a.has_shape, b.has_shape) << b.name;
    EXPECT_EQ(a.shape, b.shape) << b.name;
    ASSERT_EQ(a.is_constant(), b.is_constant()) << b.name;
    if (a.is_constant()) EXPECT_TRUE(same_bytes(a.constant, b.constant)) << b.name;
  }
  ASSERT_EQ(original.inputs().size(), loaded.inputs().size());
  for (size_t i = 0; i < original.inputs().size(); ++i)
    EXPECT_EQ(name_of(original, original.inputs()[i]), name_of(loaded, loaded.inputs()[i]));
  ASSERT_EQ(original.outputs().size(), loaded.outputs().size());
  for (size_t i = 0; i < original.outputs().size(); ++i)
    EXPECT_EQ(name_of(original, original.outputs()[i]), name_of(loaded, loaded.outputs()[i]));
}

Graph reload(const Graph& g) {
  std::string bytes = model_file_bytes(g);
  return load_model_memory(bytes.data(), bytes.size());
}

std::vector<Tensor> run(Model& m, float seed) {
  Tensor x = filled(DType::Float32, m.inputs()[0].shape, seed, 0.03f);
  return m.run({x});
}

}  // namespace

TEST(ModelFileRoundTrip, EveryFeatureComesBack) {
  Graph g = every_feature();
  Graph loaded = reload(g);
  expect_same_graph(g, loaded);
  EXPECT_EQ(loaded.find_value("unused"), -1);
}

TEST(ModelFileRoundTrip, WriterIsDeterministicAndAFixedPoint) {
  std::string once = model_file_bytes(every_feature());
  EXPECT_EQ(once, model_file_bytes(every_feature()));
  EXPECT_EQ(once, model_file_bytes(reload(every_feature())));
}

TEST(ModelFileRoundTrip, BlobsAreAlignedAndLargeOnesPageAligned) {
  TempFile file("aligned");
  Model model(small_cnn(/*wide=*/true), CompileOptions{});
  save_model_file(model.optimized_graph(), file.path());
  auto mapping = MappedFile::open(file.path());
  Graph g = read_model_file(mapping->data(), mapping->size(), mapping, file.path());
  bool saw_large = false;
  for (int v = 0; v < g.num_values(); ++v) {
    const Tensor& t = g.value(v).constant;
    if (!t.defined()) continue;
    auto offset = static_cast<uint64_t>(static_cast<const uint8_t*>(t.raw()) - mapping->data());
    EXPECT_EQ(offset % model_file::kBlobAlignment, 0u) << g.value(v).name;
    if (t.nbytes() >= model_file::kLargeBlobBytes) {
      saw_large = true;
      EXPECT_EQ(offset % model_file::kPageAlignment, 0u) << g.value(v).name;
    }
  }
  EXPECT_TRUE(saw_large);
}

TEST(ModelFileRoundTrip, ModelOutputsAreBitIdentical) {
  for (bool wide : {false, true}) {
    TempFile file("bitwise");
    Model original(small_cnn(wide), CompileOptions{});
    save_model_file(original.optimized_graph(), file.path());
    Model loaded(load_model_file(file.path()), CompileOptions{});
    ASSERT_EQ(loaded.inputs().size(), 1u);
    EXPECT_EQ(loaded.inputs()[0].shape, original.inputs()[0].shape);
    for (float seed : {0.0f, -1.0f, 2.5f}) {
      std::vector<Tensor> a = run(original, seed), b = run(loaded, seed);
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(same_bytes(a[i], b[i])) << "output " << i;
    }
  }
}

TEST(ModelFileRoundTrip, WeightsStayInTheMapping) {
  TempFile file("mapped");
  save_model_file(Model(small_cnn(true), CompileOptions{}).optimized_graph(), file.path());
  auto mapping = MappedFile::open(file.path());
  {
    Model model(read_model_file(mapping->data(), mapping->size(), mapping, file.path()), CompileOptions{});
    const Graph& g = model.optimized_graph();
    int constants = 0;
    for (int v = 0; v < g.num_values(); ++v) {
      if (!g.value(v).is_constant()) continue;
      ++constants;
      EXPECT_TRUE(mapping->contains(g.value(v).constant.raw())) << g.value(v).name << " was copied";
    }
    EXPECT_GE(constants, 4);
    EXPECT_GT(mapping.use_count(), 1);  // the tensors keep the mapping alive
  }
  EXPECT_EQ(mapping.use_count(), 1);  // and let go of it with the model
}

TEST(ModelFileRoundTrip, MemoryImagesAreCopiedSoTheCallerMayFreeThem) {
  std::string bytes = model_file_bytes(small_cnn());
  Graph g = load_model_memory(bytes.data(), bytes.size());
  const uint8_t* begin = reinterpret_cast<const uint8_t*>(bytes.data());
  for (int v = 0; v < g.num_values(); ++v)
    if (g.value(v).is_constant()) {
      auto* p = static_cast<const uint8_t*>(g.value(v).constant.raw());
      EXPECT_FALSE(p >= begin && p < begin + bytes.size());
    }
  bytes.assign(bytes.size(), '\0');
  Model model(std::move(g), CompileOptions{});
  EXPECT_EQ(model.outputs()[0].shape, (Shape{2, 5}));
}

TEST(ModelFileRoundTrip, SaveLeavesNoTemporaryAndFailsCleanly) {
  TempFile file("atomic");
  save_model_file(small_cnn(), file.path());
  std::ifstream saved(file.path(), std::ios::binary);
  char magic[8] = {};
  saved.read(magic, sizeof magic);
  EXPECT_TRUE(is_model_file(magic, sizeof magic));
  EXPECT_FALSE(std::ifstream(file.path() + ".tmp").good());
  EXPECT_THROW(save_model_file(small_cnn(), "/nonexistent/dir/model.metalnn"), Error);
}

TEST(ModelFileRoundTrip, MissingFileIsAModelError) {
  try {
    load_model_file("/nonexistent/model.metalnn");
    FAIL() << "expected ModelError";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.metalnn"), std::string::npos);
  }
}
