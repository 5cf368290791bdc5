// Node attributes: ONNX's attribute kinds, looked up by name with typed accessors and defaults.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace metalnn {

class Graph;

struct Attribute {
  enum class Kind { Int, Float, String, Ints, Floats, Strings, Tensor, Graph };
  Kind kind = Kind::Int;
  int64_t i = 0;
  float f = 0.f;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::vector<std::string> strings;
  metalnn::Tensor t;
  // A sub-graph (If branches, Loop body); shared between copies of the graph and never modified.
  std::shared_ptr<const metalnn::Graph> g;

  static Attribute make_int(int64_t v);
  static Attribute make_float(float v);
  static Attribute make_string(std::string v);
  static Attribute make_ints(std::vector<int64_t> v);
  static Attribute make_floats(std::vector<float> v);
  static Attribute make_tensor(metalnn::Tensor v);
  static Attribute make_graph(std::shared_ptr<const metalnn::Graph> v);
};

class Attributes {
 public:
  bool has(const std::string& name) const { return map_.count(name) != 0; }
  void set(const std::string& name, Attribute a) { map_[name] = std::move(a); }
  void erase(const std::string& name) { map_.erase(name); }
  const Attribute* find(const std::string& name) const;

  // Typed getters: return `fallback` when absent; throw ModelError (naming the attribute) on a kind mismatch.
  int64_t get_int(const std::string& name, int64_t fallback) const;
  float get_float(const std::string& name, float fallback) const;
  std::string get_string(const std::string& name, const std::string& fallback) const;
  std::vector<int64_t> get_ints(const std::string& name, std::vector<int64_t> fallback = {}) const;
  std::vector<float> get_floats(const std::string& name, std::vector<float> fallback = {}) const;
  // The sub-graph attribute `name`, or nullptr when absent.
  const metalnn::Graph* get_graph(const std::string& name) const;

  const std::map<std::string, Attribute>& all() const { return map_; }

 private:
  std::map<std::string, Attribute> map_;
};

}  // namespace metalnn
