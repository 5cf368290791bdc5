// FusedAttention schema, the op the attention fusion pass writes (core/passes/attention_fusion.cpp):
//   Y = softmax(scale * Q . Kt + mask) . V   with Q [B, Hq, Sq, D], Kt [B, Hkv, D, Skv],
//   V [B, Hkv, Skv, Dv], an optional additive mask broadcasting to [B, Hq, Sq, Skv], Y [B, Hq, Sq, Dv].
// Query head h reads key/value head h / (Hq / Hkv). A row whose every score is -inf comes out NaN, as
// the unfused softmax gives, or 0 with `nan_to_zero` (the exporters' IsNaN -> Where guard).
#include "core/ops/broadcast.h"
#include "core/ops/nn_checks.h"

namespace metalnn {

void infer_attention(InferContext& ctx) {
  ctx.check_inputs(3, 4);
  require_float32_inputs(ctx);
  const char* names[] = {"Q", "Kt", "V", "mask"};
  for (int i = 0; i < 3; ++i)
    if (ctx.input_shape(i).size() != 4)
      ctx.fail_shape(std::string(names[i]) + " '" + ctx.input(i).name + "' is " + shape_str(ctx.input_shape(i)) +
                     ", expected 4 dims");
  const Shape &q = ctx.input_shape(0), &kt = ctx.input_shape(1), &v = ctx.input_shape(2);
  if (kt[0] != q[0] || v[0] != q[0] || kt[1] != v[1] || kt[1] <= 0 || q[1] % kt[1] != 0 || kt[2] != q[3] ||
      v[2] != kt[3])
    ctx.fail_shape("Q " + shape_str(q) + ", Kt " + shape_str(kt) + " and V " + shape_str(v) +
                   " do not fit [B, Hq, Sq, D], [B, Hkv, D, Skv], [B, Hkv, Skv, Dv] with Hq a multiple of Hkv");
  const Shape scores = {q[0], q[1], q[2], kt[3]};
  Shape b;
  if (ctx.has_input(3) && (ctx.input_shape(3).size() > 4 || !try_broadcast_shapes(scores, ctx.input_shape(3), &b) ||
                           b != scores))
    ctx.fail_shape("mask '" + ctx.input(3).name + "' " + shape_str(ctx.input_shape(3)) +
                   " does not broadcast to the scores " + shape_str(scores));
  ctx.set_output(0, DType::Float32, {q[0], q[1], q[2], v[3]});
}

}  // namespace metalnn
