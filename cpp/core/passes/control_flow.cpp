#include "core/passes/control_flow.h"

#include <cstring>

#include "core/op_schema.h"
#include "core/ops/control_flow.h"

namespace metalnn {

namespace {

Tensor scalar_tensor(DType dtype, int64_t v) {
  Tensor t = Tensor::empty(dtype, {}, "control-flow constant");
  if (dtype == DType::Bool) *t.data<uint8_t>() = v != 0;
  else *t.data<int64_t>() = v;
  return t;
}

// A constant condition or trip count as an integer; fails naming the node and the value when it is
// not constant (through require_constant) or not one element.
int64_t constant_scalar(Graph& g, const Node& n, int input, const char* what) {
  Node copy = n;
  InferContext ctx(g, copy);
  const Tensor& t = ctx.require_constant(input, what);
  if (t.numel() != 1)
    ctx.fail_shape(std::string(what) + " '" + ctx.input(input).name + "' has shape " + shape_str(t.shape()) +
                   ", expected one element");
  switch (t.dtype()) {
    case DType::Bool:
    case DType::UInt8: return *t.data<uint8_t>();
    case DType::Int8: return *t.data<int8_t>();
    case DType::Int32: return *t.data<int32_t>();
    case DType::Int64: return *t.data<int64_t>();
    default:
      ctx.fail_dtype(std::string(what) + " '" + ctx.input(input).name + "' is " + dtype_name(t.dtype()) +
                     ", expected bool or an integer");
  }
}

class Expander {
 public:
  Expander(Graph& g, const Node& n, const NodeSink& sink, ControlFlowState& state)
      : g_(g), n_(n), sink_(sink), state_(state) {}

  // Copies `body` into the graph with its inputs bound to `bound` and hands its nodes to the sink;
  // returns the graph's ids of the body outputs.
  std::vector<int> instantiate(const Graph& body, const std::vector<int>& bound, const std::string& prefix) {
    Graph sorted = body;
    check_structure(sorted);
    sorted.sort_topologically();
    state_.inlined_nodes += static_cast<int64_t>(sorted.nodes().size());
    if (state_.inlined_nodes > kMaxInlinedNodes)
      throw UnsupportedOpError(n_.label() + ": inlining its sub-graphs would create more than " +
                               std::to_string(kMaxInlinedNodes) + " nodes");
    std::vector<int> map(static_cast<size_t>(sorted.num_values()), -1);
    for (size_t i = 0; i < bound.size(); ++i) map[sorted.inputs()[i]] = bound[i];
    auto mapped = [&](int v) {
      if (v < 0) return -1;
      if (map[v] < 0) {
        const Value& val = sorted.value(v);
        const std::string name = g_.unique_name(prefix + val.name);
        map[v] = val.is_constant() ? g_.add_constant(name, val.constant) : g_.add_value(name, val.dtype);
      }
      return map[v];
    };
    std::vector<Node> copies;
    for (const Node& inner : sorted.nodes()) {
      Node c = inner;
      c.name = prefix + inner.name;
      for (int& v : c.inputs) v = mapped(v);
      for (int& v : c.outputs) v = mapped(v);
      copies.push_back(std::move(c));
    }
    std::vector<int> outs;
    for (int v : sorted.outputs()) outs.push_back(mapped(v));
    for (Node& c : copies) sink_(std::move(c));
    return outs;
  }

  // A sub-graph value written by two nodes, or a node writing one of its inputs or constants, would
  // write a value of the enclosing graph once inlined.
  void check_structure(const Graph& body) const {
    std::vector<char> written(static_cast<size_t>(body.num_values()), 0);
    for (int v : body.inputs()) written[v] = 1;
    for (const Node& inner : body.nodes())
      for (int v : inner.outputs) {
        if (v < 0) continue;
        if (written[v] || body.value(v).is_constant())
          throw ModelError(n_.label() + ": sub-graph node " + inner.label() + " writes '" + body.value(v).name +
                           "', which is a sub-graph input, a constant or another node's output");
        written[v] = 1;
      }
  }

  void emit(const std::string& op, const std::string& name, std::vector<int> inputs, int output,
            Attributes attrs = {}) {
    Node c;
    c.op_type = op;
    c.name = name;
    c.inputs = std::move(inputs);
    c.outputs = {output};
    c.attrs = std::move(attrs);
    sink_(std::move(c));
  }

  int fresh(const std::string& base) { return g_.add_value(g_.unique_name(base)); }
  int constant(const std::string& base, Tensor t) { return g_.add_constant(g_.unique_name(base), std::move(t)); }

  void expand_if() {
    const IfParts p = check_if(n_);
    const bool taken = constant_scalar(g_, n_, 0, "condition") != 0;
    const std::vector<int> captured(n_.inputs.begin() + 1, n_.inputs.end());
    const std::vector<int> outs =
        instantiate(taken ? *p.then_branch : *p.else_branch, captured, n_.name + (taken ? "/then/" : "/else/"));
    for (size_t i = 0; i < outs.size(); ++i)
      if (n_.outputs[i] >= 0) emit("Identity", n_.name + "/out" + std::to_string(i), {outs[i]}, n_.outputs[i]);
  }

  void expand_loop() {
    const LoopParts p = check_loop(n_);
    const int body_nodes = static_cast<int>(p.body->nodes().size());
    auto input = [&](size_t i) { return i < n_.inputs.size() ? n_.inputs[i] : -1; };
    const bool has_m = input(0) >= 0, has_cond = input(1) >= 0;
    int64_t trip = has_m ? constant_scalar(g_, n_, 0, "trip count M") : -1;
    bool cond = has_cond ? constant_scalar(g_, n_, 1, "condition") != 0 : true;
    if (!has_m && !has_cond)
      throw UnsupportedOpError(n_.label() + ": has neither a trip count nor a condition (an endless loop)");
    const int64_t per_iteration = std::max(body_nodes, 1);
    if (has_m && trip > 0 && trip > kMaxUnrolledNodes / per_iteration)
      throw UnsupportedOpError(n_.label() + ": trip count M ('" + g_.value(input(0)).name + "') = " +
                               std::to_string(trip) + " iterations of " + std::to_string(body_nodes) +
                               " body nodes is over the unrolling limit of " + std::to_string(kMaxUnrolledNodes) +
                               " node copies");
    std::vector<int> carried;
    for (int i = 0; i < p.carried; ++i) carried.push_back(input(2 + i));
    const std::vector<int> captured(n_.inputs.begin() + 2 + p.carried, n_.inputs.end());
    std::vector<std::vector<int>> scans(p.scans);
    int64_t i = 0;
    for (; (!has_m || i < trip) && cond; ++i) {
      if ((i + 1) > kMaxUnrolledNodes / per_iteration)
        throw UnsupportedOpError(n_.label() + ": its condition still holds after " + std::to_string(i) +
                                 " iterations of " + std::to_string(body_nodes) + " body nodes, over the unrolling limit of " +
                                 std::to_string(kMaxUnrolledNodes) + " node copies");
      const std::string prefix = n_.name + "/" + std::to_string(i) + "/";
      std::vector<int> bound = {constant(prefix + "iteration_num", scalar_tensor(DType::Int64, i)),
                                constant(prefix + "cond", scalar_tensor(DType::Bool, cond))};
      bound.insert(bound.end(), carried.begin(), carried.end());
      bound.insert(bound.end(), captured.begin(), captured.end());
      const std::vector<int> outs = instantiate(*p.body, bound, prefix);
      for (int k = 0; k < p.carried; ++k) carried[k] = outs[1 + k];
      for (int k = 0; k < p.scans; ++k) scans[k].push_back(outs[1 + p.carried + k]);
      if (has_cond) {
        // The body's condition decides the next iteration; it has been folded by now if it can be.
        Node probe = n_;
        probe.inputs = {-1, outs[0]};
        cond = constant_scalar(g_, probe, 1, "condition computed by the body") != 0;
      }
    }
    for (int k = 0; k < p.carried; ++k)
      if (n_.outputs[k] >= 0) emit("Identity", n_.name + "/out" + std::to_string(k), {carried[k]}, n_.outputs[k]);
    for (int k = 0; k < p.scans; ++k) {
      const int out = n_.outputs[p.carried + k];
      if (out < 0) continue;
      if (scans[k].empty())
        throw UnsupportedOpError(n_.label() + ": runs no iteration, so the element shape of scan output '" +
                                 g_.value(out).name + "' is unknown");
      const std::string base = n_.name + "/scan" + std::to_string(k);
      const int axes = constant(base + "/axes", [] {
        Tensor t = Tensor::empty(DType::Int64, {1}, "axes");
        *t.data<int64_t>() = 0;
        return t;
      }());
      std::vector<int> parts;
      for (size_t j = 0; j < scans[k].size(); ++j) {
        const int part = fresh(base + "/" + std::to_string(j));
        emit("Unsqueeze", base + "/unsqueeze" + std::to_string(j), {scans[k][j], axes}, part);
        parts.push_back(part);
      }
      Attributes attrs;
      attrs.set("axis", Attribute::make_int(0));
      emit("Concat", base + "/concat", parts, out, attrs);
    }
  }

 private:
  Graph& g_;
  const Node& n_;
  const NodeSink& sink_;
  ControlFlowState& state_;
};

}  // namespace

bool expand_control_flow(Graph& g, const Node& n, const NodeSink& sink, ControlFlowState& state) {
  if (n.op_type == "If") {
    Expander(g, n, sink, state).expand_if();
    return true;
  }
  if (n.op_type == "Loop") {
    Expander(g, n, sink, state).expand_loop();
    return true;
  }
  return false;
}

}  // namespace metalnn
