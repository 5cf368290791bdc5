#include <cstring>

#include "core/passes/passes.h"
#include "core/passes/pattern.h"

namespace metalnn {

namespace {

// The other operand of a binary Add, when `x` is one of its two inputs.
int other_input(const Node& add, int x) {
  if (add.inputs.size() != 2) return -1;
  return add.inputs[0] == x ? add.inputs[1] : add.inputs[1] == x ? add.inputs[0] : -1;
}

// A constant broadcastable as a per-channel bias: numel == channels and every dim but `axis_from_end` is 1.
bool is_channel_bias(const Value& b, int64_t channels, int axis_from_end, int out_rank) {
  if (!b.is_constant() || b.dtype != DType::Float32 || b.constant.numel() != channels) return false;
  int rank = static_cast<int>(b.shape.size());
  if (rank > out_rank) return false;
  for (int i = 0; i < rank; ++i) {
    int from_end = rank - 1 - i;
    if (from_end != axis_from_end && b.shape[i] != 1) return false;
  }
  return rank > axis_from_end || channels == 1;
}

}  // namespace

void fuse_bias(Graph& g) {
  std::vector<int> uses = g.use_counts();
  std::vector<int> producer = g.producers();
  std::vector<char> dead(g.nodes().size(), 0);
  for (size_t ai = 0; ai < g.nodes().size(); ++ai) {
    Node& add = g.nodes()[ai];
    if (add.op_type != "Add") continue;
    for (int x : add.inputs) {
      if (!mergeable_edge(g, uses, x) || producer[x] < 0 || dead[producer[x]]) continue;
      Node& p = g.nodes()[producer[x]];
      if (p.attrs.has("_activation")) continue;
      int b = other_input(add, x);
      if (b < 0) continue;
      const Value& out = g.value(x);
      const Value& bias = g.value(b);
      if (out.shape != g.value(add.outputs[0]).shape) continue;  // the Add must not broadcast the product
      int rank = static_cast<int>(out.shape.size());
      if (p.op_type == "MatMul" && p.inputs.size() == 2 && rank >= 1 &&
          is_channel_bias(bias, out.shape.back(), 0, rank)) {
        p.inputs.push_back(g.add_constant(g.unique_name(p.name + ".bias"), bias.constant.reshaped({out.shape.back()})));
      } else if (p.op_type == "Conv" && rank >= 3 && is_channel_bias(bias, out.shape[1], rank - 2, rank)) {
        const int64_t c = out.shape[1];
        Tensor merged = Tensor::empty(DType::Float32, {c});
        const Tensor* old = constant_f32_input(g, p, 2);
        if (p.inputs.size() > 2 && p.inputs[2] >= 0 && !old) continue;  // run-time bias: leave it
        for (int64_t i = 0; i < c; ++i)
          merged.data<float>()[i] = bias.constant.data<float>()[i] + (old ? old->data<float>()[i] : 0.f);
        p.inputs.resize(3);
        p.inputs[2] = g.add_constant(g.unique_name(p.name + ".bias"), std::move(merged));
      } else {
        continue;
      }
      p.outputs[0] = add.outputs[0];
      dead[ai] = 1;
      break;
    }
  }
  erase_nodes(g, dead);
}

}  // namespace metalnn
