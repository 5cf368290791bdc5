#include "engine/staged_executable.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "core/error.h"
#include "core/op_schema.h"
#include "core/passes/control_flow.h"
#include "core/passes/passes.h"
#include "cpu/evaluator.h"

namespace metalnn {

namespace {

// The prefix of a data-dependent output that its kernel filled: entries past the count are -1 (the
// first coordinate of each column of NonZero's [rank, n], of each row of NonMaxSuppression's [n, 3]).
Tensor trim(const Tensor& t, int axis) {
  const Shape& s = t.shape();
  const int64_t rows = s[0], cols = s[1];
  const int64_t* p = t.data<int64_t>();
  const int64_t bound = axis == 0 ? rows : cols, step = axis == 0 ? cols : 1;
  int64_t count = 0;
  if (axis == 0 ? cols > 0 : rows > 0)
    while (count < bound && p[count * step] >= 0) ++count;
  Shape shape = s;
  shape[axis] = count;
  Tensor out = Tensor::empty(DType::Int64, shape, "data-dependent output");
  int64_t* o = out.data<int64_t>();
  if (axis == 0)
    std::memcpy(o, p, size_t(count * cols) * sizeof(int64_t));
  else
    for (int64_t r = 0; r < rows; ++r) std::memcpy(o + r * count, p + r * cols, size_t(count) * sizeof(int64_t));
  return out;
}

// Whether `g` or a graph nested in it holds a node with a data-dependent output.
bool holds_data_dependent(const Graph& g) {
  for (const Node& n : g.nodes()) {
    if (data_dependent_axis(n.op_type) >= 0) return true;
    for (const auto& [name, a] : n.attrs.all())
      if (a.g && holds_data_dependent(*a.g)) return true;
  }
  return false;
}

bool is_if_holding_data_dependent(const Node& n) {
  if (n.op_type != "If") return false;
  for (const char* branch : {"then_branch", "else_branch"})
    if (const Graph* b = n.attrs.get_graph(branch); b && holds_data_dependent(*b)) return true;
  return false;
}

// Inlines each If whose branches hold a data-dependent op and whose condition is a constant, so
// that op is a split point like any other (inlined later, by constant folding, its padded output
// would be read untrimmed). Returns the conditions of the others: they decide the split.
std::vector<int> inline_data_dependent_ifs(Graph& g) {
  std::vector<int> undecided;
  std::vector<Node> nodes;
  ControlFlowState state;
  NodeSink keep = [&](Node n) {
    if (is_if_holding_data_dependent(n)) {
      if (g.value(n.inputs[0]).is_constant()) {
        expand_control_flow(g, n, keep, state);
        return;
      }
      undecided.push_back(n.inputs[0]);
    }
    nodes.push_back(std::move(n));
  };
  std::vector<Node> old = std::move(g.nodes());
  g.nodes().clear();
  for (Node& n : old) keep(std::move(n));
  g.nodes() = std::move(nodes);
  return undecided;
}

// A data-dependent output read inside its own stage would be read at its padded upper bound; only a
// Loop body unrolled by constant folding can leave one there.
void check_no_untrimmed_read(const Graph& g) {
  for (const Node& n : g.nodes()) {
    if (data_dependent_axis(n.op_type) < 0) continue;
    for (const Node& reader : g.nodes())
      if (std::find(reader.inputs.begin(), reader.inputs.end(), n.outputs[0]) != reader.inputs.end())
        throw UnsupportedOpError(n.label() + ": a data-dependent output inside a Loop body is not supported (read by " +
                                 reader.label() + ")");
  }
}

Tensor copy_of(const Tensor& t) {
  Tensor out = Tensor::empty(t.dtype(), t.shape(), "run-time constant");
  if (t.nbytes()) std::memcpy(out.raw(), t.raw(), t.nbytes());
  return out;
}

}  // namespace

struct StagedExecutable::Rest {
  Graph graph;                 // the later nodes; inputs get their shapes (or values) per entry
  std::vector<int> inputs;     // the values it reads from the first stage or the graph inputs
  std::vector<char> deciding;  // per input: needed as a constant, so its value keys the cache
  std::vector<int> outputs;    // the graph outputs it produces
  CompileOptions options;
  ConstantPool* constants = nullptr;
  const Graph* source = nullptr;
  struct Entry {
    std::string key;
    std::unique_ptr<StagedExecutable> executable;
  };
  std::list<Entry> lru;  // most recently used first
  std::map<std::string, std::list<Entry>::iterator> by_key;

  StagedExecutable& specialise(const std::vector<const Tensor*>& values) {
    std::string key;
    for (size_t i = 0; i < values.size(); ++i) {
      const Tensor& t = *values[i];
      key += std::to_string(int(t.dtype())) + shape_str(t.shape());
      if (deciding[i]) key.append(static_cast<const char*>(t.raw()), t.nbytes());
      key += ';';
    }
    if (auto found = by_key.find(key); found != by_key.end()) {
      lru.splice(lru.begin(), lru, found->second);
      return *lru.front().executable;
    }
    Graph g = graph;
    std::vector<int> runtime_inputs;
    for (size_t i = 0; i < values.size(); ++i) {
      Value& v = g.value(inputs[i]);
      v.dtype = values[i]->dtype();
      v.shape = values[i]->shape();
      v.has_shape = true;
      if (deciding[i]) v.constant = copy_of(*values[i]);
      else runtime_inputs.push_back(inputs[i]);
    }
    g.inputs() = runtime_inputs;
    auto executable = std::make_unique<StagedExecutable>(std::move(g), options, *constants, *source);
    while (lru.size() >= StagedExecutable::kStageCacheCapacity) {
      by_key.erase(lru.back().key);
      lru.pop_back();
    }
    lru.push_front(Entry{key, std::move(executable)});
    by_key[key] = lru.begin();
    return *lru.front().executable;
  }
};

StagedExecutable::StagedExecutable(Graph g, const CompileOptions& options, ConstantPool& constants,
                                   const Graph& source) {
  build(std::move(g), options, constants, source, false);
}

StagedExecutable::StagedExecutable(Graph g, const CompileOptions& options, ConstantPool& constants)
    : own_source_(g) {
  build(std::move(g), options, constants, own_source_, true);
}

void StagedExecutable::build(Graph g, const CompileOptions& options, ConstantPool& constants, const Graph& source,
                             bool release) {
  inputs_ = g.inputs();
  outputs_ = g.outputs();
  const std::vector<int> undecided = inline_data_dependent_ifs(g);
  num_values_ = g.num_values();
  g.sort_topologically();
  const std::vector<Node>& nodes = g.nodes();
  const size_t n_nodes = nodes.size();
  std::vector<std::vector<int>> consumers(size_t(g.num_values()));
  for (size_t i = 0; i < n_nodes; ++i)
    for (int v : nodes[i].inputs)
      if (v >= 0) consumers[size_t(v)].push_back(int(i));
  // Later nodes: those reading a split point, and every node after them.
  std::vector<char> later(n_nodes, 0);
  auto defer = [&](int v) {
    bool changed = false;
    std::vector<int> pending = consumers[size_t(v)];
    while (!pending.empty()) {
      const int i = pending.back();
      pending.pop_back();
      if (later[size_t(i)]) continue;
      later[size_t(i)] = 1;
      changed = true;
      for (int out : nodes[size_t(i)].outputs)
        if (out >= 0) pending.insert(pending.end(), consumers[size_t(out)].begin(), consumers[size_t(out)].end());
    }
    return changed;
  };
  for (const Node& n : nodes)
    if (data_dependent_axis(n.op_type) >= 0)
      for (int v : n.outputs)
        if (v >= 0) defer(v);
  std::set<int> deciding;
  for (int cond : undecided) {
    deciding.insert(cond);
    defer(cond);
  }
  std::vector<int> produced_by(size_t(g.num_values()), -1);
  for (size_t i = 0; i < n_nodes; ++i)
    for (int v : nodes[i].outputs)
      if (v >= 0) produced_by[size_t(v)] = int(i);
  auto in_first = [&](int v) { return produced_by[size_t(v)] >= 0 && !later[size_t(produced_by[size_t(v)])]; };
  std::vector<int> boundary;
  while (true) {
    boundary.clear();
    std::vector<char> seen(size_t(g.num_values()), 0);
    first_outputs_.clear();
    // Graph outputs that are constants or inputs come out of the first stage too.
    for (int v : outputs_)
      if ((produced_by[size_t(v)] < 0 || in_first(v)) && !seen[size_t(v)]) {
        seen[size_t(v)] = 1;
        first_outputs_.push_back(v);
      }
    std::vector<char> is_boundary(size_t(g.num_values()), 0);
    for (size_t i = 0; i < n_nodes; ++i) {
      if (!later[i]) continue;
      for (int v : nodes[i].inputs)
        if (v >= 0 && !g.value(v).is_constant() && (in_first(v) || produced_by[size_t(v)] < 0)) is_boundary[size_t(v)] = 1;
    }
    for (int v = 0; v < g.num_values(); ++v) {
      if (!is_boundary[size_t(v)]) continue;
      boundary.push_back(v);
      if (in_first(v) && !seen[size_t(v)]) {
        seen[size_t(v)] = 1;
        first_outputs_.push_back(v);
      }
    }
    first_graph_ = g;
    first_graph_.nodes().clear();
    for (size_t i = 0; i < n_nodes; ++i)
      if (!later[i]) first_graph_.nodes().push_back(nodes[i]);
    first_graph_.outputs() = first_outputs_;
    if (first_outputs_.empty()) break;
    try {
      optimize(first_graph_, cpu::node_evaluator());
      check_no_untrimmed_read(first_graph_);
      break;
    } catch (const RuntimeValueNeeded& e) {
      // Plan what reads the value once it is known; everything else stays in this stage.
      const int v = g.find_value(e.value());
      if (v < 0 || !deciding.insert(v).second || !defer(v)) throw;
    }
  }
  trim_axis_.assign(first_outputs_.size(), -1);
  for (size_t i = 0; i < first_outputs_.size(); ++i) {
    const int producer = produced_by[size_t(first_outputs_[i])];
    if (producer >= 0 && nodes[size_t(producer)].outputs[0] == first_outputs_[i])
      trim_axis_[i] = data_dependent_axis(nodes[size_t(producer)].op_type);
  }
  const bool whole = std::none_of(later.begin(), later.end(), [](char c) { return c != 0; });
  if (!first_outputs_.empty()) {
    constants.intern(first_graph_, source);
    if (release && whole && options.device == "cpu" &&
        std::none_of(trim_axis_.begin(), trim_axis_.end(), [](int a) { return a >= 0; })) {
      // The executable's graph becomes the weights' only holder, so each is freed once packed.
      g = Graph();
      own_source_ = Graph();
      first_ = compile(std::move(first_graph_), options);
      first_graph_ = *first_->held_graph();
    } else {
      first_ = compile(first_graph_, options);
    }
  }
  if (whole) return;
  rest_ = std::make_unique<Rest>();
  rest_->graph = g;
  rest_->graph.nodes().clear();
  for (size_t i = 0; i < n_nodes; ++i)
    if (later[i]) rest_->graph.nodes().push_back(nodes[i]);
  rest_->inputs = boundary;
  for (int v : boundary) rest_->deciding.push_back(deciding.count(v) ? 1 : 0);
  for (int v : outputs_)
    if (produced_by[size_t(v)] >= 0 && later[size_t(produced_by[size_t(v)])] &&
        std::find(rest_->outputs.begin(), rest_->outputs.end(), v) == rest_->outputs.end())
      rest_->outputs.push_back(v);
  rest_->graph.inputs() = boundary;
  rest_->graph.outputs() = rest_->outputs;
  rest_->options = options;
  rest_->constants = &constants;
  rest_->source = &source;
}

StagedExecutable::~StagedExecutable() = default;

bool StagedExecutable::single_stage() const {
  return !rest_ && std::none_of(trim_axis_.begin(), trim_axis_.end(), [](int a) { return a >= 0; });
}

std::vector<Tensor> StagedExecutable::run(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> values(static_cast<size_t>(num_values_));
  for (size_t i = 0; i < inputs_.size(); ++i) values[size_t(inputs_[i])] = inputs[i];
  if (first_) {
    std::vector<Tensor> outs = first_->run(inputs);
    for (size_t i = 0; i < outs.size(); ++i)
      values[size_t(first_outputs_[i])] = trim_axis_[i] >= 0 ? trim(outs[i], trim_axis_[i]) : std::move(outs[i]);
  }
  if (rest_) {
    std::vector<const Tensor*> boundary;
    for (int v : rest_->inputs) boundary.push_back(&values[size_t(v)]);
    StagedExecutable& next = rest_->specialise(boundary);
    std::vector<Tensor> next_inputs;
    for (size_t i = 0; i < boundary.size(); ++i)
      if (!rest_->deciding[i]) next_inputs.push_back(*boundary[i]);
    std::vector<Tensor> outs = next.run(next_inputs);
    for (size_t i = 0; i < outs.size(); ++i) values[size_t(rest_->outputs[i])] = std::move(outs[i]);
  }
  std::vector<Tensor> result;
  for (int v : outputs_) result.push_back(values[size_t(v)]);
  return result;
}

size_t StagedExecutable::arena_bytes() const { return first_ ? first_->arena_bytes() : 0; }

}  // namespace metalnn
