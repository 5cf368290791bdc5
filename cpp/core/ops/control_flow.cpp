// Schemas of If and Loop (see control_flow.h). Their inference runs only when the pass could not
// resolve the node, so it checks the structure and then asks for the constant it lacks.
#include "core/ops/control_flow.h"

#include "core/op_schema.h"

namespace metalnn {

namespace {

// The input count with trailing omitted inputs dropped (Graph::add_node trims them too).
size_t given_inputs(const Node& n) {
  size_t k = n.inputs.size();
  while (k > 0 && n.inputs[k - 1] < 0) --k;
  return k;
}

const Graph& subgraph(const Node& n, const char* attr) {
  const Graph* g = n.attrs.get_graph(attr);
  if (!g) throw ModelError(n.label() + ": sub-graph attribute '" + attr + "' is missing");
  return *g;
}

void check_branch(const Node& n, const Graph& branch, const char* attr) {
  const size_t captured = n.inputs.size() - 1;
  if (branch.inputs().size() != captured)
    throw ModelError(n.label() + ": " + attr + " takes " + std::to_string(branch.inputs().size()) +
                     " inputs, the node gives it " + std::to_string(captured));
  if (branch.outputs().size() != n.outputs.size())
    throw ModelError(n.label() + ": " + attr + " has " + std::to_string(branch.outputs().size()) +
                     " outputs, the node has " + std::to_string(n.outputs.size()));
}

}  // namespace

bool has_subgraph(const Node& n) {
  for (const auto& [name, a] : n.attrs.all())
    if (a.kind == Attribute::Kind::Graph) return true;
  return false;
}

IfParts check_if(const Node& n) {
  if (n.inputs.empty() || n.inputs[0] < 0) throw ModelError(n.label() + ": input 0 (cond) is required");
  IfParts p{&subgraph(n, "then_branch"), &subgraph(n, "else_branch")};
  check_branch(n, *p.then_branch, "then_branch");
  check_branch(n, *p.else_branch, "else_branch");
  return p;
}

LoopParts check_loop(const Node& n) {
  LoopParts p{&subgraph(n, "body"), 0, 0, 0};
  const Graph& body = *p.body;
  const int64_t captured = n.attrs.get_int("_captured", 0);
  const int64_t body_inputs = static_cast<int64_t>(body.inputs().size());
  if (captured < 0 || captured > body_inputs - 2)
    throw ModelError(n.label() + ": body takes " + std::to_string(body_inputs) + " inputs, expected iteration_num, cond, " +
                     "the loop-carried values and " + std::to_string(captured) + " values of the enclosing graph");
  p.captured = static_cast<int>(captured);
  p.carried = static_cast<int>(body_inputs - 2 - captured);
  const size_t expected_inputs = static_cast<size_t>(body_inputs);
  const size_t given = given_inputs(n);
  if (given > expected_inputs || (given < expected_inputs && p.carried + p.captured > 0))
    throw ModelError(n.label() + ": has " + std::to_string(given) + " inputs, its body expects " +
                     std::to_string(expected_inputs) + " (M, cond, " + std::to_string(p.carried) +
                     " loop-carried, " + std::to_string(p.captured) + " captured)");
  for (size_t i = 2; i < given; ++i)
    if (n.inputs[i] < 0) throw ModelError(n.label() + ": input " + std::to_string(i) + " is required");
  const int64_t body_outputs = static_cast<int64_t>(body.outputs().size());
  if (body_outputs < 1 + p.carried || body_outputs - 1 != static_cast<int64_t>(n.outputs.size()))
    throw ModelError(n.label() + ": body has " + std::to_string(body_outputs) + " outputs, expected cond, " +
                     std::to_string(p.carried) + " loop-carried values and one per scan output (the node has " +
                     std::to_string(n.outputs.size()) + " outputs)");
  p.scans = static_cast<int>(body_outputs - 1 - p.carried);
  return p;
}

void infer_if(InferContext& ctx) {
  check_if(ctx.node());
  ctx.require_constant(0, "condition");
  ctx.fail_unsupported("is resolved by constant folding, which did not run on this graph");
}

void infer_loop(InferContext& ctx) {
  check_loop(ctx.node());
  if (ctx.has_input(0)) ctx.require_constant(0, "trip count M");
  if (ctx.has_input(1)) ctx.require_constant(1, "condition");
  ctx.fail_unsupported("is unrolled by constant folding, which did not run on this graph");
}

}  // namespace metalnn
