#include <cmath>

#include "core/passes/passes.h"
#include "core/passes/pattern.h"

namespace metalnn {

void fold_batch_norm(Graph& g) {
  std::vector<int> uses = g.use_counts();
  std::vector<int> producer = g.producers();
  std::vector<char> dead(g.nodes().size(), 0);
  for (size_t bi = 0; bi < g.nodes().size(); ++bi) {
    Node& bn = g.nodes()[bi];
    if (bn.op_type != "BatchNormalization" || bn.attrs.get_int("training_mode", 0) != 0) continue;
    int x = bn.inputs[0];
    if (!mergeable_edge(g, uses, x) || producer[x] < 0) continue;
    Node& conv = g.nodes()[producer[x]];
    if (conv.op_type != "Conv" || conv.attrs.has("_activation") || conv.attrs.has("_residual")) continue;
    const Tensor* w = constant_f32_input(g, conv, 1);
    const Tensor* scale = constant_f32_input(g, bn, 1);
    const Tensor* shift = constant_f32_input(g, bn, 2);
    const Tensor* mean = constant_f32_input(g, bn, 3);
    const Tensor* var = constant_f32_input(g, bn, 4);
    bool has_bias = conv.inputs.size() > 2 && conv.inputs[2] >= 0;
    const Tensor* bias = has_bias ? constant_f32_input(g, conv, 2) : nullptr;
    if (!w || !scale || !shift || !mean || !var || (has_bias && !bias)) continue;

    const int64_t out_channels = w->dim(0);
    const int64_t per_channel = w->numel() / out_channels;
    if (scale->numel() != out_channels) continue;
    const float eps = bn.attrs.get_float("epsilon", 1e-5f);
    Tensor new_w = Tensor::empty(DType::Float32, w->shape());
    Tensor new_b = Tensor::empty(DType::Float32, {out_channels});
    for (int64_t c = 0; c < out_channels; ++c) {
      float s = scale->data<float>()[c] / std::sqrt(var->data<float>()[c] + eps);
      for (int64_t k = 0; k < per_channel; ++k)
        new_w.data<float>()[c * per_channel + k] = w->data<float>()[c * per_channel + k] * s;
      float b = bias ? bias->data<float>()[c] : 0.f;
      new_b.data<float>()[c] = (b - mean->data<float>()[c]) * s + shift->data<float>()[c];
    }
    conv.inputs.resize(3);
    conv.inputs[1] = g.add_constant(g.unique_name(conv.name + ".folded_weight"), std::move(new_w));
    conv.inputs[2] = g.add_constant(g.unique_name(conv.name + ".folded_bias"), std::move(new_b));
    conv.outputs[0] = bn.outputs[0];
    dead[bi] = 1;
  }
  erase_nodes(g, dead);
}

}  // namespace metalnn
