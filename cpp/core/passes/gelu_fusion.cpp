// GELU as exporters write it, in elementwise ops, becomes one Gelu node:
//   erf form:  0.5 * x * (1 + Erf(x / sqrt(2)))                   (or x * (1 / sqrt(2)))
//   tanh form: 0.5 * x * (1 + Tanh(sqrt(2 / pi) * (x + 0.044715 * Pow(x, 3))))
// the product 0.5 * x * a in any association: (x * a) * 0.5, (x * 0.5) * a, x * (a * 0.5).
#include <cmath>

#include "core/passes/passes.h"
#include "core/passes/pattern.h"

namespace metalnn {

namespace {

class GeluMatcher {
 public:
  explicit GeluMatcher(Graph& g) : g_(g), uses_(g.use_counts()), producer_(g.producers()) {}

  // The x of `mul` = 0.5 * x * (1 + erf|tanh(...)), with the nodes it replaces added to `parts`.
  int match(const Node& mul, bool& tanh_form, std::vector<int>& parts) {
    if (mul.op_type != "Mul" || mul.inputs.size() != 2) return -1;
    for (int side = 0; side < 2; ++side) {
      const int p = mul.inputs[side], q = mul.inputs[1 - side];
      parts.clear();
      int x;
      if (is_scalar(q, 0.5f)) {  // (x * a) * 0.5
        const Node* xa = inner(p, "Mul", parts);
        if (!xa) continue;
        for (int k = 0; k < 2; ++k) {
          const size_t mark = parts.size();
          x = gate(xa->inputs[k], tanh_form, parts);
          if (x >= 0 && x == xa->inputs[1 - k]) return x;
          parts.resize(mark);
        }
        continue;
      }
      const Node* half = inner(p, "Mul", parts);
      const int other = half ? scalar_operand(*half, 0.5f) : -1;
      if (other < 0) continue;
      // (x * 0.5) * a: other is x and q the gate; x * (a * 0.5): q is x and other the gate
      const size_t mark = parts.size();
      if ((x = gate(q, tanh_form, parts)) >= 0 && x == other) return x;
      parts.resize(mark);
      if ((x = gate(other, tanh_form, parts)) >= 0 && x == q) return x;
    }
    return -1;
  }

 private:
  // The node producing `v` when it is an `op` whose output only the pattern reads; recorded in parts.
  const Node* inner(int v, const char* op, std::vector<int>& parts) const {
    if (!mergeable_edge(g_, uses_, v) || producer_[v] < 0) return nullptr;
    const Node& n = g_.nodes()[producer_[v]];
    if (n.op_type != op || g_.value(v).dtype != DType::Float32) return nullptr;
    parts.push_back(producer_[v]);
    return &n;
  }

  bool is_scalar(int v, float c) const {
    float value;
    return scalar_f32(g_, v, value) && std::fabs(value - c) <= 1e-5f * std::fabs(c);
  }

  // The other input of a binary node whose one input is the scalar c, or -1.
  int scalar_operand(const Node& n, float c) const {
    if (n.inputs.size() != 2) return -1;
    if (is_scalar(n.inputs[1], c)) return n.inputs[0];
    if (is_scalar(n.inputs[0], c)) return n.inputs[1];
    return -1;
  }

  // The x of a = 1 + Erf(x / sqrt 2) or 1 + Tanh(...), or -1.
  int gate(int a, bool& tanh_form, std::vector<int>& parts) const {
    const Node* add = inner(a, "Add", parts);
    const int t = add ? scalar_operand(*add, 1.f) : -1;
    if (t < 0) return -1;
    if (const Node* erf = inner(t, "Erf", parts)) {
      tanh_form = false;
      const int u = erf->inputs[0];
      if (const Node* div = inner(u, "Div", parts))
        return is_scalar(div->inputs[1], 1.41421356f) ? div->inputs[0] : -1;
      const Node* mul = inner(u, "Mul", parts);
      return mul ? scalar_operand(*mul, 0.70710678f) : -1;
    }
    const Node* tanh = inner(t, "Tanh", parts);
    const Node* scaled = tanh ? inner(tanh->inputs[0], "Mul", parts) : nullptr;
    const int w = scaled ? scalar_operand(*scaled, 0.79788456f) : -1;
    const Node* sum = w >= 0 ? inner(w, "Add", parts) : nullptr;
    if (!sum || sum->inputs.size() != 2) return -1;
    tanh_form = true;
    for (int k = 0; k < 2; ++k) {  // x + 0.044715 * Pow(x, 3)
      const int x = sum->inputs[k];
      const size_t mark = parts.size();
      const Node* cube_term = inner(sum->inputs[1 - k], "Mul", parts);
      const int cube = cube_term ? scalar_operand(*cube_term, 0.044715f) : -1;
      const Node* pow = cube >= 0 ? inner(cube, "Pow", parts) : nullptr;
      if (pow && pow->inputs.size() == 2 && pow->inputs[0] == x && is_scalar(pow->inputs[1], 3.f)) return x;
      parts.resize(mark);
    }
    return -1;
  }

  Graph& g_;
  std::vector<int> uses_, producer_;
};

}  // namespace

void fuse_gelu(Graph& g) {
  GeluMatcher matcher(g);
  std::vector<char> dead(g.nodes().size(), 0);
  std::vector<int> parts;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    Node& n = g.nodes()[i];
    bool tanh_form = false;
    if (dead[i]) continue;
    const int x = matcher.match(n, tanh_form, parts);
    if (x < 0 || g.value(x).shape != g.value(n.outputs[0]).shape) continue;  // no broadcasting by the constants
    if (!claim(dead, parts)) continue;
    n.op_type = "Gelu";
    n.inputs = {x};
    n.attrs = Attributes();
    if (tanh_form) n.attrs.set("approximate", Attribute::make_string("tanh"));
  }
  erase_nodes(g, dead);
}

}  // namespace metalnn
