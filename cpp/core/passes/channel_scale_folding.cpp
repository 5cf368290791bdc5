#include "core/passes/passes.h"
#include "core/passes/pattern.h"

namespace metalnn {

namespace {

// `t` (float32, last axis of length s.numel()) with every row multiplied by s elementwise.
Tensor scaled_columns(const Tensor& t, const Tensor& s) {
  Tensor out = Tensor::empty(DType::Float32, t.shape());
  const int64_t n = s.numel();
  const float* src = t.data<float>();
  float* dst = out.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) dst[i] = src[i] * s.data<float>()[i % n];
  return out;
}

}  // namespace

void fold_channel_scale(Graph& g) {
  std::vector<int> uses = g.use_counts();
  std::vector<int> producer = g.producers();
  std::vector<char> dead(g.nodes().size(), 0);
  for (size_t mi = 0; mi < g.nodes().size(); ++mi) {
    const Node& mul = g.nodes()[mi];
    if (mul.op_type != "Mul" || mul.inputs.size() != 2 || mul.outputs.size() != 1) continue;
    for (int x : mul.inputs) {
      if (!mergeable_edge(g, uses, x) || producer[x] < 0 || dead[producer[x]]) continue;
      const int s = other_operand(mul, x);
      if (s < 0 || s == x) continue;
      const Value& xv = g.value(x);
      if (xv.shape != g.value(mul.outputs[0]).shape) continue;  // the Mul must not broadcast x
      const int rank = static_cast<int>(xv.shape.size());
      // Through one Transpose the MatMul's last axis lands where perm names it.
      int ti = -1, mm_out = x, axis = rank - 1;
      if (g.nodes()[producer[x]].op_type == "Transpose") {
        ti = producer[x];
        const Node& t = g.nodes()[ti];
        mm_out = t.inputs[0];
        const std::vector<int64_t> perm = t.attrs.get_ints("perm");
        if (static_cast<int>(perm.size()) != rank || !mergeable_edge(g, uses, mm_out) || producer[mm_out] < 0 ||
            dead[producer[mm_out]])
          continue;
        axis = -1;
        for (int j = 0; j < rank; ++j)
          if (perm[j] == rank - 1) axis = j;
        if (axis < 0) continue;
      }
      const int pi = producer[mm_out];
      const Node& mm = g.nodes()[pi];
      // After an activation the scale would not commute with it.
      if (mm.op_type != "MatMul" || mm.attrs.has("_activation") || mm.inputs.size() < 2 || rank < 1) continue;
      const Tensor* w = constant_f32_input(g, mm, 1);
      const Tensor* bias = constant_f32_input(g, mm, 2);
      if (!w || w->shape().empty() || (mm.inputs.size() > 2 && mm.inputs[2] >= 0 && !bias)) continue;
      const int64_t n = w->shape().back();
      if (g.value(mm_out).shape.empty() || g.value(mm_out).shape.back() != n) continue;
      if (!is_channel_constant(g.value(s), n, rank - 1 - axis, rank)) continue;
      // Both scaled before add_constant, which may move the values w, bias and the scale live in.
      const Tensor& scale = g.value(s).constant;
      Tensor sw = scaled_columns(*w, scale), sb = bias ? scaled_columns(*bias, scale) : Tensor();
      Node& m = g.nodes()[pi];
      m.inputs[1] = g.add_constant(g.unique_name(m.name + ".scaled_weight"), std::move(sw));
      if (bias) m.inputs[2] = g.add_constant(g.unique_name(m.name + ".scaled_bias"), std::move(sb));
      // The last node of the chain now writes the Mul's output.
      g.nodes()[ti >= 0 ? ti : pi].outputs[0] = mul.outputs[0];
      dead[mi] = 1;
      break;
    }
  }
  erase_nodes(g, dead);
}

}  // namespace metalnn
