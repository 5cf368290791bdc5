// Graphs and files shared by the .metalnn tests: a small model the CPU runs, and a graph that uses every
// kind of value and attribute the format stores.
#pragma once
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/graph.h"

namespace metalnn::testing {

inline Tensor filled(DType dtype, const Shape& shape, float start, float step) {
  Tensor t = Tensor::empty(dtype, shape);
  for (int64_t i = 0; i < t.numel(); ++i) {
    float v = start + step * static_cast<float>(i % 17) - 0.05f * static_cast<float>(i % 5);
    if (dtype == DType::Float32) t.data<float>()[i] = v;
    else if (dtype == DType::Int64) t.data<int64_t>()[i] = static_cast<int64_t>(i) - 3;
  }
  return t;
}

inline Node node(Graph& g, const std::string& op, const std::string& name, std::vector<std::string> ins,
                 std::vector<std::string> outs) {
  Node n;
  n.op_type = op;
  n.name = name;
  for (auto& s : ins) n.inputs.push_back(s.empty() ? -1 : g.value_id(s));
  for (auto& s : outs) n.outputs.push_back(g.value_id(s));
  return n;
}

// x[2,3,8,8] -> Conv(4 filters, 3x3, pads 1) -> Relu -> GlobalAveragePool -> Flatten -> Gemm(4->5) -> y.
// Big enough to have a page-aligned blob once the weights reach 16 KiB (`wide` makes the Gemm 4 x 1100).
inline Graph small_cnn(bool wide = false) {
  const int64_t out = wide ? 1100 : 5;
  Graph g;
  Value& x = g.value(g.add_value("x", DType::Float32));
  x.shape = {2, 3, 8, 8};
  x.has_shape = true;
  g.inputs().push_back(g.find_value("x"));
  g.add_constant("conv.w", filled(DType::Float32, {4, 3, 3, 3}, -0.4f, 0.05f));
  g.add_constant("conv.b", filled(DType::Float32, {4}, 0.1f, 0.02f));
  g.add_constant("fc.w", filled(DType::Float32, {out, 4}, -0.3f, 0.04f));
  g.add_constant("fc.b", filled(DType::Float32, {out}, 0.0f, 0.01f));
  Node conv = node(g, "Conv", "conv", {"x", "conv.w", "conv.b"}, {"c"});
  conv.attrs.set("pads", Attribute::make_ints({1, 1, 1, 1}));
  conv.attrs.set("kernel_shape", Attribute::make_ints({3, 3}));
  g.add_node(conv);
  g.add_node(node(g, "Relu", "relu", {"c"}, {"r"}));
  g.add_node(node(g, "GlobalAveragePool", "pool", {"r"}, {"p"}));
  Node flat = node(g, "Flatten", "flatten", {"p"}, {"f"});
  flat.attrs.set("axis", Attribute::make_int(1));
  g.add_node(flat);
  Node fc = node(g, "Gemm", "fc", {"f", "fc.w", "fc.b"}, {"y"});
  fc.attrs.set("transB", Attribute::make_int(1));
  fc.attrs.set("alpha", Attribute::make_float(1.0f));
  g.add_node(fc);
  g.outputs().push_back(g.find_value("y"));
  return g;
}

// Structure only (never compiled): every attribute kind, an omitted optional input, an int64 constant,
// a value without a shape and one with a free dimension.
inline Graph every_feature() {
  Graph g;
  Value& x = g.value(g.add_value("x", DType::Float32));
  x.shape = {-1, 7};
  x.has_shape = true;
  g.inputs().push_back(g.find_value("x"));
  g.add_constant("k", filled(DType::Int64, {3}, 0, 0));
  g.add_constant("empty", Tensor::empty(DType::Float32, {0, 4}));
  Node n = node(g, "Custom", "all attrs", {"x", "", "k", "empty"}, {"y"});
  n.attrs.set("i", Attribute::make_int(-42));
  n.attrs.set("f", Attribute::make_float(0.25f));
  n.attrs.set("s", Attribute::make_string(std::string("bytes\0and text", 14)));
  n.attrs.set("ints", Attribute::make_ints({1, -2, 3}));
  n.attrs.set("floats", Attribute::make_floats({0.5f, -1.5f}));
  Attribute strings;
  strings.kind = Attribute::Kind::Strings;
  strings.strings = {"a", "", "ccc"};
  n.attrs.set("strings", strings);
  n.attrs.set("t", Attribute::make_tensor(filled(DType::Float32, {2, 2}, 1.0f, 1.0f)));
  g.add_node(n);
  g.add_value("unused");  // not referenced: the writer drops it
  g.outputs().push_back(g.find_value("y"));
  return g;
}

// A file path in the test's temporary directory, removed when the object goes away.
class TempFile {
 public:
  explicit TempFile(const std::string& name)
      : path_(std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/" + name + "." +
              std::to_string(::getpid()) + ".metalnn") {}
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace metalnn::testing
