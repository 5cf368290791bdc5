// The model as the engine sees it: values (tensors with dtype, shape and optional constant data) and
// nodes (op type, attributes, input and output values). Passes rewrite it; the Plan orders it.
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

#include "core/attributes.h"
#include "core/tensor.h"

namespace metalnn {

struct Value {
  std::string name;
  DType dtype = DType::Undefined;
  Shape shape;
  bool has_shape = false;
  Tensor constant;  // defined() for initializers and folded values
  bool is_constant() const { return constant.defined(); }
};

struct Node {
  std::string op_type;
  std::string name;
  Attributes attrs;
  std::vector<int> inputs;   // value ids; -1 marks an omitted optional input
  std::vector<int> outputs;  // value ids; -1 marks an omitted optional output
  // "Conv 'layer1.0.conv1'", the prefix of every error about this node.
  std::string label() const;
};

class Graph {
 public:
  int add_value(const std::string& name, DType dtype = DType::Undefined);
  // Adds a constant value (initializer); its dtype and shape come from the tensor.
  int add_constant(const std::string& name, Tensor t);
  // Returns the id of the value with this name, or -1.
  int find_value(const std::string& name) const;
  // Returns the id of the value with this name, creating an undefined one if absent.
  int value_id(const std::string& name);
  // A fresh, unused value name derived from `base`.
  std::string unique_name(const std::string& base) const;

  Node& add_node(Node n);

  Value& value(int id) { return values_[id]; }
  const Value& value(int id) const { return values_[id]; }
  int num_values() const { return static_cast<int>(values_.size()); }

  std::vector<Node>& nodes() { return nodes_; }
  const std::vector<Node>& nodes() const { return nodes_; }

  std::vector<int>& inputs() { return inputs_; }
  const std::vector<int>& inputs() const { return inputs_; }
  std::vector<int>& outputs() { return outputs_; }
  const std::vector<int>& outputs() const { return outputs_; }

  // Number of nodes reading each value, plus one for each time it is a graph output.
  std::vector<int> use_counts() const;
  // Index of the node producing each value, or -1.
  std::vector<int> producers() const;
  // Reorders nodes topologically; throws ModelError naming a node whose input is never produced.
  void sort_topologically();
  // Drops nodes whose outputs nobody reads and values nobody references.
  void remove_dead_nodes();
  // Runs every node's shape inference in order (nodes must be sorted).
  void infer_shapes();
  // Replaces every read of value `from` with `to` (graph outputs included).
  void replace_uses(int from, int to);

 private:
  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::vector<int> inputs_, outputs_;
  std::unordered_map<std::string, int> by_name_;
};

}  // namespace metalnn
