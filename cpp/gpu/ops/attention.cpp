// FusedAttention (metal/attention.metal): one thread per query row; an absent mask is bound to a
// placeholder the kernel never reads.
#include "core/ops/attention.h"
#include "core/ops/broadcast.h"
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_attention(Lowering& L, const Node& n) {
  const AttentionLayout a = attention_layout(L.shape(n.inputs[0]), L.shape(n.inputs[1]), L.shape(n.inputs[2]),
                                             n.attrs.get_int("heads", 0));
  AttentionParams p{};
  p.rows = u32(n, a.batch * a.heads * a.q_len);
  p.heads = u32(n, a.heads);
  p.group = u32(n, a.heads / a.kv_heads);
  p.q_len = u32(n, a.q_len);
  p.kv_len = u32(n, a.kv_len);
  p.head_dim = u32(n, a.head_dim);
  p.v_dim = u32(n, a.v_dim);
  p.scale = n.attrs.get_float("scale", 1.f);
  p.nan_to_zero = n.attrs.get_int("nan_to_zero", 0) != 0 ? 1u : 0u;
  p.has_mask = Lowering::has_input(n, 3) ? 1u : 0u;
  fill_array(n, p.q_strides, std::vector<int64_t>(a.q, a.q + 3));
  fill_array(n, p.k_strides, std::vector<int64_t>(a.k, a.k + 4));
  fill_array(n, p.v_strides, std::vector<int64_t>(a.v, a.v + 3));
  fill_array(n, p.y_strides, std::vector<int64_t>(a.y, a.y + 3));
  if (p.has_mask)
    fill_array(n, p.mask_strides, broadcast_strides(L.shape(n.inputs[3]), {a.batch, a.heads, a.q_len, a.kv_len}));
  if (p.rows == 0 || p.v_dim == 0) return;
  Dispatch& d = L.dispatch(kernel_name("attention", "rows", L.suffix(n.inputs[0])));
  d.input(0, n.inputs[0]).input(1, n.inputs[1]).input(2, n.inputs[2]).output(4, n.outputs[0]).params(5, p);
  if (p.has_mask) d.input(3, n.inputs[3]);
  else d.buffer(3, L.upload_floats({0.0f}));
  d.threads_1d(p.rows);
}

}  // namespace metalnn::gpu
