// FusedAttention (metal/attention.metal): one thread per query row; an absent mask is bound to a
// placeholder the kernel never reads.
#include "core/ops/broadcast.h"
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_attention(Lowering& L, const Node& n) {
  const Shape &q = L.shape(n.inputs[0]), &kt = L.shape(n.inputs[1]), &v = L.shape(n.inputs[2]);
  AttentionParams p{};
  p.rows = u32(n, q[0] * q[1] * q[2]);
  p.heads = u32(n, q[1]);
  p.kv_heads = u32(n, kt[1]);
  p.group = u32(n, q[1] / kt[1]);
  p.q_len = u32(n, q[2]);
  p.kv_len = u32(n, kt[3]);
  p.head_dim = u32(n, q[3]);
  p.v_dim = u32(n, v[3]);
  p.scale = n.attrs.get_float("scale", 1.f);
  p.nan_to_zero = n.attrs.get_int("nan_to_zero", 0) != 0 ? 1u : 0u;
  p.has_mask = Lowering::has_input(n, 3) ? 1u : 0u;
  if (p.has_mask) fill_array(n, p.mask_strides, broadcast_strides(L.shape(n.inputs[3]), {q[0], q[1], q[2], kt[3]}));
  if (p.rows == 0 || p.v_dim == 0) return;
  Dispatch& d = L.dispatch(kernel_name("attention", "rows", L.suffix(n.inputs[0])));
  d.input(0, n.inputs[0]).input(1, n.inputs[1]).input(2, n.inputs[2]).output(4, n.outputs[0]).params(5, p);
  if (p.has_mask) d.input(3, n.inputs[3]);
  else d.buffer(3, L.upload_floats({0.0f}));
  d.threads_1d(p.rows);
}

}  // namespace metalnn::gpu
