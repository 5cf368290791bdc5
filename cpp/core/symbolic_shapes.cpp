#include "core/symbolic_shapes.h"

#include <algorithm>
#include <exception>
#include <string>

#include "core/op_schema.h"
#include "core/ops/control_flow.h"

namespace metalnn {

namespace {

// Free dimensions are given two stand-in sizes and each node is inferred under both: an output
// dimension that differs between the two depends on a free size and becomes -1. The sizes are
// large multiples of 64 so that the strided, pooled and concatenated paths of image models line up;
// neither is ever compiled or allocated.
constexpr int64_t kProbe[2] = {64 * 29, 64 * 37};

struct Probe {
  std::vector<Shape> shapes;  // per value
  std::vector<DType> dtypes;
  std::vector<char> known;    // per value: shape and dtype known in this probe
};

// Runs one node's schema on a scratch graph holding the probe's shapes; false when it fails (with
// the error in `error`, when the node's inputs were known).
struct Failure {
  std::string message;
  std::exception_ptr exception;
};

bool infer_node(const Graph& g, const Node& n, Probe& p, Failure* failure) {
  Graph scratch;
  Node copy = n;
  for (int& v : copy.inputs) {
    if (v < 0) continue;
    if (!p.known[v]) return false;
    const Value& src = g.value(v);
    if (const int seen = scratch.find_value(src.name); seen >= 0) {  // the same value read twice
      v = seen;
      continue;
    }
    int id = src.is_constant() ? scratch.add_constant(src.name, src.constant) : scratch.add_value(src.name, p.dtypes[v]);
    if (!src.is_constant()) {
      scratch.value(id).shape = p.shapes[v];
      scratch.value(id).has_shape = true;
    }
    v = id;
  }
  std::vector<int> out_ids;
  for (int& v : copy.outputs) {
    out_ids.push_back(v);
    if (v >= 0) v = scratch.add_value(g.value(v).name + "#out");
  }
  try {
    InferContext ctx(scratch, copy);
    find_schema(n.op_type)->infer(ctx);
  } catch (const UnsupportedOpError&) {
    return false;  // typically an input that folds to a constant only once the sizes are known
  } catch (const Error& e) {
    *failure = Failure{e.what(), std::current_exception()};
    return false;
  }
  for (size_t i = 0; i < out_ids.size(); ++i) {
    if (out_ids[i] < 0) continue;
    const Value& r = scratch.value(copy.outputs[i]);
    p.shapes[out_ids[i]] = r.shape;
    p.dtypes[out_ids[i]] = r.dtype;
    p.known[out_ids[i]] = r.has_shape;
  }
  return true;
}

}  // namespace

bool has_free_dims(const Graph& g) {
  for (int v : g.inputs()) {
    const Shape& s = g.value(v).shape;
    if (std::any_of(s.begin(), s.end(), [](int64_t d) { return d < 0; })) return true;
  }
  return false;
}

void infer_symbolic_shapes(Graph& g) {
  const int n_values = g.num_values();
  std::vector<char> free(n_values, 0);  // value depends on a free input size
  Probe probes[2];
  for (Probe& p : probes) {
    p.shapes.resize(n_values);
    p.dtypes.resize(n_values);
    p.known.assign(n_values, 0);
    for (int v = 0; v < n_values; ++v) {
      const Value& val = g.value(v);
      if (val.is_constant()) {
        p.shapes[v] = val.constant.shape();
        p.dtypes[v] = val.constant.dtype();
        p.known[v] = 1;
      }
    }
  }
  for (int v : g.inputs()) {
    const Value& val = g.value(v);
    for (int k = 0; k < 2; ++k) {
      Shape s = val.shape;
      for (int64_t& d : s)
        if (d < 0) d = kProbe[k];
      probes[k].shapes[v] = s;
      probes[k].dtypes[v] = val.dtype;
      probes[k].known[v] = 1;
    }
    free[v] = std::any_of(val.shape.begin(), val.shape.end(), [](int64_t d) { return d < 0; });
  }
  auto defer_value = [&](int v) {
    free[v] = 1;
    for (Probe& p : probes) p.known[v] = 0;
    g.value(v).has_shape = false;
    g.value(v).shape.clear();
  };
  // A size only the kernel knows is free: -1 here, a different stand-in size in each probe.
  auto mark_data_dependent = [&](const Node& n, int axis) {
    const int v = n.outputs[0];
    if (v < 0 || !g.value(v).has_shape) return;
    free[v] = 1;
    g.value(v).shape[size_t(axis)] = -1;
    for (int k = 0; k < 2; ++k) probes[k].shapes[v][size_t(axis)] = kProbe[k];
  };
  for (Node& n : g.nodes()) {
    if (!find_schema(n.op_type)) throw UnsupportedOpError(n.label() + ": op type '" + n.op_type + "' is not supported");
    // If and Loop resolve only once a specialisation folds their condition: always deferred.
    bool depends = has_subgraph(n);
    for (int v : n.inputs) depends |= v >= 0 && free[v];
    for (int v : n.outputs)
      if (v >= 0) free[v] = depends;
    const int data_axis = data_dependent_axis(n.op_type);
    if (!depends) {
      // Nothing here depends on a free size: infer on the real graph, so errors surface at load.
      InferContext ctx(g, n);
      try {
        find_schema(n.op_type)->infer(ctx);
      } catch (const RuntimeValueNeeded&) {
        // A shape that follows from data computed at run time: known once that data is.
        for (int v : n.outputs)
          if (v >= 0) defer_value(v);
        continue;
      }
      for (int v : n.outputs)
        if (v >= 0)
          for (Probe& p : probes) {
            p.shapes[v] = g.value(v).shape;
            p.dtypes[v] = g.value(v).dtype;
            p.known[v] = g.value(v).has_shape;
          }
      if (data_axis >= 0) mark_data_dependent(n, data_axis);
      continue;
    }
    Failure failures[2];
    const bool ok = infer_node(g, n, probes[0], &failures[0]) & infer_node(g, n, probes[1], &failures[1]);
    // The same error under both sizes does not depend on them (a channel mismatch): report it now.
    // One that names the sizes (a Reshape to a fixed size) waits for the sizes that break it.
    if (!ok && failures[0].exception && failures[0].message == failures[1].message)
      std::rethrow_exception(failures[0].exception);
    for (int v : n.outputs) {
      if (v < 0) continue;
      Value& val = g.value(v);
      const Shape &a = probes[0].shapes[v], &b = probes[1].shapes[v];
      if (!ok || !probes[0].known[v] || !probes[1].known[v] || a.size() != b.size() ||
          probes[0].dtypes[v] != probes[1].dtypes[v]) {
        // Deferred: known only once the sizes are (a probe failure may be a real error at some
        // sizes and none at others, so it is reported by the specialisation that meets it).
        for (Probe& p : probes) p.known[v] = 0;
        val.has_shape = false;
        val.shape.clear();
        continue;
      }
      val.dtype = probes[0].dtypes[v];
      val.shape = a;
      for (size_t i = 0; i < a.size(); ++i)
        if (a[i] != b[i]) val.shape[i] = -1;
      val.has_shape = true;
    }
    if (data_axis >= 0 && ok) mark_data_dependent(n, data_axis);
  }
}

}  // namespace metalnn
