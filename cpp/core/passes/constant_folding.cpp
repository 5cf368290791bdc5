#include "core/evaluator.h"
#include "core/op_schema.h"
#include "core/passes/control_flow.h"
#include "core/passes/passes.h"

namespace metalnn {

namespace {

bool all_inputs_constant(const Graph& g, const Node& n) {
  for (int v : n.inputs)
    if (v >= 0 && !g.value(v).is_constant()) return false;
  return true;
}

// Ops whose outputs depend only on input shapes fold as soon as those shapes are known.
bool depends_on_shape_only(const Node& n) { return n.op_type == "Shape" || n.op_type == "Size"; }

// Returns false when `evaluator` cannot evaluate the node (it then stays in the graph).
bool evaluate(Graph& g, const Node& n, const NodeEvaluator& evaluator) {
  if (!evaluator.can_evaluate(n.op_type)) return false;
  std::vector<Tensor> inputs_storage;
  inputs_storage.reserve(n.inputs.size());
  std::vector<const Tensor*> inputs;
  for (int v : n.inputs) {
    if (v < 0) {
      inputs.push_back(nullptr);
    } else if (g.value(v).is_constant()) {
      inputs.push_back(&g.value(v).constant);
    } else {
      // Shape/Size read only the shape: give them a view with no data.
      inputs_storage.emplace_back(g.value(v).dtype, g.value(v).shape, nullptr);
      inputs.push_back(&inputs_storage.back());
    }
  }
  std::vector<Tensor> results;
  std::vector<Tensor*> outputs;
  results.reserve(n.outputs.size());
  for (int v : n.outputs) {
    if (v < 0) {
      outputs.push_back(nullptr);
      continue;
    }
    results.push_back(Tensor::empty(g.value(v).dtype, g.value(v).shape, n.label() + ": output '" + g.value(v).name + "'"));
    outputs.push_back(&results.back());
  }
  evaluator.evaluate(g, n, inputs, outputs);
  for (size_t i = 0; i < n.outputs.size(); ++i)
    if (n.outputs[i] >= 0) g.value(n.outputs[i]).constant = *outputs[i];
  return true;
}

// A DequantizeLinear of an int8/uint8 constant (a quantized weight), which the quantized fusion pass
// keeps int8 where it can.
bool dequantizes_weight(const Graph& g, const Node& n) {
  if (n.op_type != "DequantizeLinear" || n.inputs.empty()) return false;
  const DType t = g.value(n.inputs[0]).dtype;
  return t == DType::Int8 || t == DType::UInt8;
}

}  // namespace

void fold_constants(Graph& g, const NodeEvaluator& evaluator, bool keep_weight_dequantize) {
  g.sort_topologically();
  std::vector<Node> kept;
  ControlFlowState control_flow;
  NodeSink process = [&](Node n) {
    // An If or Loop becomes the nodes it stands for, each processed here in turn.
    if (expand_control_flow(g, n, process, control_flow)) return;
    const OpSchema* schema = find_schema(n.op_type);
    if (!schema) throw UnsupportedOpError(n.label() + ": op type '" + n.op_type + "' is not supported");
    InferContext ctx(g, n);
    schema->infer(ctx);
    bool graph_output = false;
    for (int v : n.outputs)
      for (int o : g.outputs()) graph_output |= (v == o && v >= 0);
    const bool keep = keep_weight_dequantize && dequantizes_weight(g, n);
    // A data-dependent output is planned at its upper bound: only the engine's split trims it.
    const bool data_dependent = data_dependent_axis(n.op_type) >= 0;
    if (!graph_output && !keep && !data_dependent && (all_inputs_constant(g, n) || depends_on_shape_only(n)) &&
        evaluate(g, n, evaluator))
      return;
    kept.push_back(std::move(n));
  };
  std::vector<Node> nodes = std::move(g.nodes());
  g.nodes().clear();
  for (Node& n : nodes) process(std::move(n));
  g.nodes() = std::move(kept);
  g.remove_dead_nodes();
}

void fold_weights(Graph& g, const NodeEvaluator& evaluator) {
  // With control flow, which values a split plan decides at run time depends on which nodes are
  // still there; such graphs keep folding to each specialisation.
  for (const Node& n : g.nodes())
    if (n.op_type == "If" || n.op_type == "Loop") return;
  g.sort_topologically();
  std::vector<int> uses = g.use_counts();
  std::vector<Node> kept;
  for (Node& n : g.nodes()) {
    bool graph_output = false;
    for (int v : n.outputs)
      for (int o : g.outputs()) graph_output |= (v == o && v >= 0);
    const OpSchema* schema = find_schema(n.op_type);
    const bool foldable = schema && !n.inputs.empty() && all_inputs_constant(g, n) && !graph_output &&
                          !dequantizes_weight(g, n) && data_dependent_axis(n.op_type) < 0;
    if (foldable) {
      InferContext ctx(g, n);
      schema->infer(ctx);
      if (evaluate(g, n, evaluator)) {
        // A weight read only by folded nodes is let go at once, so the model never holds the
        // original and the folded form of all its weights together.
        for (int v : n.inputs)
          if (v >= 0 && --uses[v] == 0) g.value(v).constant = Tensor();
        continue;
      }
    }
    kept.push_back(std::move(n));
  }
  g.nodes() = std::move(kept);
}

}  // namespace metalnn
