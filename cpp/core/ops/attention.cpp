// FusedAttention schema, the op the attention fusion pass writes (core/passes/attention_fusion.cpp):
//   Y = softmax(scale * Q . Kt + mask) . V   with Q [B, Hq, Sq, D], Kt [B, Hkv, D, Skv],
//   V [B, Hkv, Skv, Dv], an optional additive mask broadcasting to [B, Hq, Sq, Skv], Y [B, Hq, Sq, Dv].
// With `heads` = Hq the operands are instead [B, Sq, Hq * D], [B, Skv, Hkv * D], [B, Skv, Hkv * Dv] and
// Y [B, Sq, Hq * Dv] (core/ops/attention.h). Query head h reads key/value head h / (Hq / Hkv). A row
// whose every score is -inf comes out NaN, as the unfused softmax gives, or 0 with `nan_to_zero` (the
// exporters' IsNaN -> Where guard).
#include "core/ops/attention.h"

#include <algorithm>
#include <string>

#include "core/ops/broadcast.h"
#include "core/ops/nn_checks.h"

namespace metalnn {

AttentionLayout attention_layout(const Shape& q, const Shape& k, const Shape& v, int64_t heads) {
  AttentionLayout a;
  if (heads <= 0) {
    if (q.size() != 4 || k.size() != 4 || v.size() != 4) return a;
    a.batch = q[0], a.heads = q[1], a.q_len = q[2], a.head_dim = q[3];
    a.kv_heads = k[1], a.kv_len = k[3], a.v_dim = v[3];
    if (k[0] != a.batch || v[0] != a.batch || v[1] != a.kv_heads || k[2] != a.head_dim || v[2] != a.kv_len) return a;
    const int64_t qs[3] = {a.heads * a.q_len * a.head_dim, a.q_len * a.head_dim, a.head_dim};
    const int64_t ks[4] = {a.kv_heads * a.head_dim * a.kv_len, a.head_dim * a.kv_len, a.kv_len, 1};
    const int64_t vs[3] = {a.kv_heads * a.kv_len * a.v_dim, a.kv_len * a.v_dim, a.v_dim};
    const int64_t ys[3] = {a.heads * a.q_len * a.v_dim, a.q_len * a.v_dim, a.v_dim};
    std::copy(qs, qs + 3, a.q), std::copy(ks, ks + 4, a.k), std::copy(vs, vs + 3, a.v), std::copy(ys, ys + 3, a.y);
    a.output = {a.batch, a.heads, a.q_len, a.v_dim};
  } else {
    if (q.size() != 3 || k.size() != 3 || v.size() != 3 || q[2] % heads != 0) return a;
    a.batch = q[0], a.heads = heads, a.q_len = q[1], a.head_dim = q[2] / heads, a.kv_len = k[1];
    if (a.head_dim <= 0 || k[2] % a.head_dim != 0) return a;
    a.kv_heads = k[2] / a.head_dim;
    if (k[0] != a.batch || v[0] != a.batch || v[1] != a.kv_len || a.kv_heads <= 0 || v[2] % a.kv_heads != 0) return a;
    a.v_dim = v[2] / a.kv_heads;
    const int64_t qs[3] = {a.q_len * q[2], a.head_dim, q[2]};
    const int64_t ks[4] = {a.kv_len * k[2], a.head_dim, 1, k[2]};
    const int64_t vs[3] = {a.kv_len * v[2], a.v_dim, v[2]};
    const int64_t ys[3] = {a.q_len * heads * a.v_dim, a.v_dim, heads * a.v_dim};
    std::copy(qs, qs + 3, a.q), std::copy(ks, ks + 4, a.k), std::copy(vs, vs + 3, a.v), std::copy(ys, ys + 3, a.y);
    a.output = {a.batch, a.q_len, heads * a.v_dim};
  }
  a.valid = a.kv_heads > 0 && a.heads % a.kv_heads == 0;
  return a;
}

void infer_attention(InferContext& ctx) {
  ctx.check_inputs(3, 4);
  require_float32_inputs(ctx);
  const int64_t heads = ctx.attrs().get_int("heads", 0);
  const Shape &q = ctx.input_shape(0), &k = ctx.input_shape(1), &v = ctx.input_shape(2);
  const AttentionLayout a = attention_layout(q, k, v, heads);
  if (!a.valid) {
    const std::string layout = heads > 0 ? "[B, Sq, Hq * D], [B, Skv, Hkv * D], [B, Skv, Hkv * Dv] with heads " +
                                               std::to_string(heads)
                                         : "[B, Hq, Sq, D], [B, Hkv, D, Skv], [B, Hkv, Skv, Dv]";
    ctx.fail_shape("Q " + shape_str(q) + ", K " + shape_str(k) + " and V " + shape_str(v) + " do not fit " + layout +
                   " and Hq a multiple of Hkv");
  }
  const Shape scores = {a.batch, a.heads, a.q_len, a.kv_len};
  Shape b;
  if (ctx.has_input(3) && (ctx.input_shape(3).size() > 4 || !try_broadcast_shapes(scores, ctx.input_shape(3), &b) ||
                           b != scores))
    ctx.fail_shape("mask '" + ctx.input(3).name + "' " + shape_str(ctx.input_shape(3)) +
                   " does not broadcast to the scores " + shape_str(scores));
  ctx.set_output(0, DType::Float32, a.output);
}

}  // namespace metalnn
