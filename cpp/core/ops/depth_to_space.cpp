// DepthToSpace and SpaceToDepth schemas (DCR and CRD modes): NCHW input, blocksize b; depth moves to
// b x b spatial blocks and back.
#include "core/ops/depth_to_space.h"

#include "core/ops/tensor_checks.h"

namespace metalnn {

namespace {

bool to_space(const Node& n) { return n.op_type == "DepthToSpace"; }

}  // namespace

BlockView depth_to_space_view(const Node& n, const Shape& in) {
  const int64_t b = n.attrs.get_int("blocksize", 0);
  const int64_t N = in[0], C = in[1], H = in[2], W = in[3];
  const bool crd = n.attrs.get_string("mode", "DCR") == "CRD";
  if (to_space(n)) {
    // out[n][c][h*b + i][w*b + j] = in[n][channel(c, i, j)][h][w]; iterate [N, C/b², H, b, W, b].
    const int64_t c = C / (b * b), hw = H * W;
    return {{N, c, H, b, W, b},
            crd ? std::vector<int64_t>{C * hw, b * b * hw, W, b * hw, 1, hw}
                : std::vector<int64_t>{C * hw, hw, W, b * c * hw, 1, c * hw}};
  }
  // out[n][channel(c, i, j)][h][w] = in[n][c][h*b + i][w*b + j]; iterate [N, b, b, C, H/b, W/b] (DCR,
  // channel (i*b + j)*C + c) or [N, C, b, b, H/b, W/b] (CRD, channel c*b² + i*b + j).
  if (crd) return {{N, C, b, b, H / b, W / b}, {C * H * W, H * W, W, 1, b * W, b}};
  return {{N, b, b, C, H / b, W / b}, {C * H * W, W, 1, H * W, b * W, b}};
}

void infer_depth_to_space(InferContext& ctx) {
  ctx.check_inputs(1, 1);
  ctx.check_rank(0, 4, "input");
  const int64_t b = ctx.attrs().get_int("blocksize", 0);
  if (b < 1) ctx.fail_model("blocksize " + std::to_string(b) + " is not positive");
  const Shape& in = ctx.input_shape(0);
  const std::string mode = ctx.attrs().get_string("mode", "DCR");  // SpaceToDepth's since opset 28
  if (mode != "DCR" && mode != "CRD") ctx.fail_model("mode '" + mode + "' is not DCR or CRD");
  if (to_space(ctx.node())) {
    if (in[1] % (b * b) != 0)
      ctx.fail_shape("input '" + ctx.input(0).name + "' has " + std::to_string(in[1]) +
                     " channels, not a multiple of blocksize² = " + std::to_string(b * b));
    ctx.set_output(0, ctx.input_dtype(0), {in[0], in[1] / (b * b), in[2] * b, in[3] * b});
    return;
  }
  if (in[2] % b != 0 || in[3] % b != 0)
    ctx.fail_shape("input '" + ctx.input(0).name + "' " + shape_str(in) + " has a height or width not divisible by blocksize " +
                   std::to_string(b));
  ctx.set_output(0, ctx.input_dtype(0), {in[0], in[1] * b * b, in[2] / b, in[3] / b});
}

}  // namespace metalnn
