#include "core/graph.h"

#include <algorithm>

#include "core/error.h"
#include "core/op_schema.h"

namespace metalnn {

std::string Node::label() const { return op_type + " '" + name + "'"; }

int Graph::add_value(const std::string& name, DType dtype) {
  if (by_name_.count(name)) throw ModelError("value '" + name + "' is defined twice");
  Value v;
  v.name = name;
  v.dtype = dtype;
  values_.push_back(std::move(v));
  int id = static_cast<int>(values_.size()) - 1;
  by_name_[name] = id;
  return id;
}

int Graph::add_constant(const std::string& name, Tensor t) {
  int id = find_value(name);
  if (id < 0) id = add_value(name);
  Value& v = values_[id];
  v.dtype = t.dtype();
  v.shape = t.shape();
  v.has_shape = true;
  v.constant = std::move(t);
  return id;
}

int Graph::find_value(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? -1 : it->second;
}

int Graph::value_id(const std::string& name) {
  int id = find_value(name);
  return id >= 0 ? id : add_value(name);
}

std::string Graph::unique_name(const std::string& base) const {
  if (!by_name_.count(base)) return base;
  for (int i = 1;; ++i) {
    std::string n = base + "_" + std::to_string(i);
    if (!by_name_.count(n)) return n;
  }
}

Node& Graph::add_node(Node n) {
  // Trailing omitted inputs and outputs are no inputs or outputs at all (ONNX's own reading): kernels
  // then see the count the op's arity checks saw.
  while (!n.inputs.empty() && n.inputs.back() < 0) n.inputs.pop_back();
  while (!n.outputs.empty() && n.outputs.back() < 0) n.outputs.pop_back();
  nodes_.push_back(std::move(n));
  return nodes_.back();
}

std::vector<int> Graph::use_counts() const {
  std::vector<int> uses(values_.size(), 0);
  for (const Node& n : nodes_)
    for (int v : n.inputs)
      if (v >= 0) ++uses[v];
  for (int v : outputs_) ++uses[v];
  return uses;
}

std::vector<int> Graph::producers() const {
  std::vector<int> prod(values_.size(), -1);
  for (size_t i = 0; i < nodes_.size(); ++i)
    for (int v : nodes_[i].outputs)
      if (v >= 0) prod[v] = static_cast<int>(i);
  return prod;
}

void Graph::sort_topologically() {
  std::vector<char> ready(values_.size(), 0);
  for (int v : inputs_) ready[v] = 1;
  for (size_t v = 0; v < values_.size(); ++v)
    if (values_[v].is_constant()) ready[v] = 1;
  std::vector<char> placed(nodes_.size(), 0);
  std::vector<Node> order;
  order.reserve(nodes_.size());
  bool progress = true;
  while (order.size() < nodes_.size() && progress) {
    progress = false;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (placed[i]) continue;
      bool ok = std::all_of(nodes_[i].inputs.begin(), nodes_[i].inputs.end(),
                            [&](int v) { return v < 0 || ready[v]; });
      if (!ok) continue;
      placed[i] = 1;
      progress = true;
      for (int v : nodes_[i].outputs)
        if (v >= 0) ready[v] = 1;
      order.push_back(nodes_[i]);
    }
  }
  if (order.size() < nodes_.size()) {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (placed[i]) continue;
      for (int v : nodes_[i].inputs)
        if (v >= 0 && !ready[v])
          throw ModelError(nodes_[i].label() + ": input '" + values_[v].name +
                           "' is never produced (missing initializer, graph input or cycle)");
    }
  }
  nodes_ = std::move(order);
}

void Graph::remove_dead_nodes() {
  bool changed = true;
  while (changed) {
    changed = false;
    std::vector<int> uses = use_counts();
    std::vector<Node> kept;
    kept.reserve(nodes_.size());
    for (Node& n : nodes_) {
      bool live = std::any_of(n.outputs.begin(), n.outputs.end(), [&](int v) { return v >= 0 && uses[v] > 0; });
      if (live) kept.push_back(std::move(n));
      else changed = true;
    }
    nodes_ = std::move(kept);
  }
}

void Graph::infer_shapes() {
  for (Node& n : nodes_) {
    const OpSchema* schema = find_schema(n.op_type);
    if (!schema) throw UnsupportedOpError(n.label() + ": op type '" + n.op_type + "' is not supported");
    InferContext ctx(*this, n);
    schema->infer(ctx);
    for (size_t i = 0; i < n.outputs.size(); ++i) {
      int v = n.outputs[i];
      if (v >= 0 && !values_[v].has_shape)
        throw ModelError(n.label() + ": shape inference left output " + std::to_string(i) + " unset");
    }
  }
}

void Graph::replace_uses(int from, int to) {
  for (Node& n : nodes_)
    for (int& v : n.inputs)
      if (v == from) v = to;
  for (int& v : outputs_)
    if (v == from) v = to;
}

}  // namespace metalnn
