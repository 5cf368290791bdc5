// The public API (metalnn/metalnn.h): load from a file or memory, describe, run into caller buffers,
// and report errors as NetworkError with the right kind.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>

#include "core/model_file_writer.h"
#include "engine/model.h"
#include "metalnn/metalnn.h"
#include "model_file_test_graphs.h"

using metalnn::Network;
using metalnn::NetworkError;

namespace {

std::vector<float> input_values(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i % 11) * 0.1f - 0.4f;
  return v;
}

std::vector<float> run(Network& net) {
  std::vector<float> x = input_values(net.inputs()[0].element_count());
  std::vector<float> y(net.outputs()[0].element_count());
  net.run({x.data()}, {y.data()});
  return y;
}

NetworkError::Kind error_kind(const std::function<void()>& f) {
  try {
    f();
  } catch (const NetworkError& e) {
    return e.kind();
  }
  ADD_FAILURE() << "expected NetworkError";
  return NetworkError::Kind::Other;
}

}  // namespace

TEST(ModelFileApi, LoadsDescribesAndRunsLikeTheModel) {
  metalnn::testing::TempFile file("api");
  metalnn::Model model(metalnn::testing::small_cnn(), metalnn::CompileOptions{});
  metalnn::save_model_file(model.optimized_graph(), file.path());

  Network net = Network::load(file.path(), {"cpu"});
  EXPECT_EQ(net.device(), "cpu");
  ASSERT_EQ(net.inputs().size(), 1u);
  EXPECT_EQ(net.inputs()[0].name, "x");
  EXPECT_EQ(net.inputs()[0].type, metalnn::ElementType::Float32);
  EXPECT_EQ(net.inputs()[0].shape, (std::vector<int64_t>{2, 3, 8, 8}));
  EXPECT_EQ(net.inputs()[0].byte_size(), 2u * 3 * 8 * 8 * 4);
  EXPECT_EQ(net.outputs()[0].name, "y");
  EXPECT_EQ(net.input_index("x"), 0);
  EXPECT_EQ(net.output_index("nope"), -1);

  std::vector<float> x = input_values(net.inputs()[0].element_count());
  metalnn::Tensor xt(metalnn::DType::Float32, {2, 3, 8, 8}, x.data());
  metalnn::Tensor expected = model.run({xt})[0];
  std::vector<float> y = run(net);
  ASSERT_EQ(y.size() * sizeof(float), expected.nbytes());
  EXPECT_EQ(std::memcmp(y.data(), expected.raw(), expected.nbytes()), 0);

  std::ifstream in(file.path(), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Network from_memory = Network::load(bytes.data(), bytes.size());
  bytes.clear();
  EXPECT_EQ(run(from_memory), y);

  Network moved = std::move(net);
  EXPECT_EQ(run(moved), y);
}

TEST(ModelFileApi, ErrorsCarryTheirKind) {
  using Kind = NetworkError::Kind;
  EXPECT_EQ(error_kind([] { Network::load("/nonexistent.metalnn"); }), Kind::Model);
  const char junk[] = "definitely not a model file, long enough to have a header of sixty-four bytes";
  EXPECT_EQ(error_kind([&] { Network::load(junk, sizeof junk); }), Kind::Model);

  std::string bytes = metalnn::model_file_bytes(metalnn::testing::small_cnn());
  EXPECT_EQ(error_kind([&] { Network::load(bytes.data(), bytes.size(), {"no-such-device"}); }), Kind::Device);

  Network net = Network::load(bytes.data(), bytes.size());
  std::vector<float> y(net.outputs()[0].element_count());
  EXPECT_EQ(error_kind([&] { net.run({}, {y.data()}); }), Kind::Shape);
  EXPECT_EQ(error_kind([&] { net.run({nullptr}, {y.data()}); }), Kind::Shape);
}
