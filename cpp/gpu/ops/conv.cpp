// Conv with fused bias and activation (metal/conv.metal): depthwise kernels for one input channel per
// group, the tiled implicit GEMM (1x1, 3x3 and general windows) for the rest; 1x1 stride-1 unpadded
// convolutions run as a GEMM per image (metal/gemm.metal). 1-D as height 1. A fused residual
// (core/passes/residual_fusion.cpp) is a second dispatch: the convolution stores y with its bias
// only, then conv_residual makes it act(y + r) in place.
#include "core/activation.h"
#include "core/ops/window.h"
#include "core/ops/window2d.h"
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_matmul_params(Lowering& L, const Node& n, int a, int b, int bias, int out, MatmulParams p);  // gemm.cpp

Epilogue epilogue_of(const Node& n, bool has_bias) {
  const Activation act = Activation::of_node(n);
  return Epilogue{int32_t(act.kind), act.alpha, act.beta, has_bias ? 1u : 0u};
}

void lower_conv(Lowering& L, const Node& n) {
  const int x = n.inputs[0], w = n.inputs[1], y = n.outputs[0];
  const int bias = Lowering::has_input(n, 2) ? n.inputs[2] : -1;
  const Shape& xs = L.shape(x);
  const Shape& ws = L.shape(w);
  const Shape& ys = L.shape(y);
  if (xs.size() > 4) unsupported(n, "convolutions over more than 2 spatial dims");
  if (n.attrs.get_int("_exact_sum", 0) != 0 && L.float_storage() == DType::Float16)  // a lowered ConvInteger
    unsupported(n, "ConvInteger at float16 precision (its integer sums exceed float16's exact range); use float32");
  const Window2d win = to_window2d(
      resolve_window(n, std::vector<int64_t>(xs.begin() + 2, xs.end()), std::vector<int64_t>(ws.begin() + 2, ws.end()), false));
  const int64_t groups = n.attrs.get_int("group", 1);
  ConvParams p{};
  p.batch = u32(n, xs[0]);
  p.in_c = u32(n, xs[1]), p.in_h = u32(n, win.in_h), p.in_w = u32(n, win.in_w);
  p.out_c = u32(n, ys[1]), p.out_h = u32(n, win.out_h), p.out_w = u32(n, win.out_w);
  p.kernel_h = u32(n, win.kernel_h), p.kernel_w = u32(n, win.kernel_w);
  p.stride_h = u32(n, win.stride_h), p.stride_w = u32(n, win.stride_w);
  p.dilation_h = u32(n, win.dilation_h), p.dilation_w = u32(n, win.dilation_w);
  p.pad_top = int32_t(win.pad_top), p.pad_left = int32_t(win.pad_left);
  p.in_c_per_group = u32(n, xs[1] / groups), p.out_c_per_group = u32(n, ys[1] / groups);
  p.epilogue = epilogue_of(n, bias >= 0);
  const bool residual = n.attrs.get_int("_residual", 0) != 0;
  ResidualParams after{};
  if (residual) {  // the activation moves after the sum
    after.count = u32(n, shape_numel(ys));
    after.epilogue = p.epilogue;
    after.epilogue.has_bias = 0;
    p.epilogue.activation = int32_t(Activation::Kind::None);
  }
  auto finish = [&] {
    if (residual)
      L.dispatch(kernel_name("conv", "residual", L.suffix(y)))
          .input(0, n.inputs[3]).input(1, y).output(2, y).params(3, after).threads_1d(after.count);
  };

  const bool pointwise = p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 &&
                         p.pad_left == 0 && win.pad_bottom == 0 && win.pad_right == 0 && groups == 1;
  if (pointwise) {
    // out[b] (out_c x HW) = W (out_c x in_c) * x[b] (in_c x HW) + bias per row.
    MatmulParams m{};
    const uint32_t pixels = p.in_h * p.in_w;
    m.m = p.out_c, m.n = pixels, m.k = p.in_c;
    m.batch_count = p.batch, m.batch_rank = 1, m.batch_shape[0] = p.batch;
    m.a_batch_strides[0] = 0, m.b_batch_strides[0] = p.in_c * pixels;
    m.a_m = p.in_c, m.a_k = 1, m.b_k = pixels, m.b_n = 1;
    m.bias_m = 1, m.bias_n = 0;
    m.alpha = 1.0f, m.beta = 1.0f;
    m.epilogue = p.epilogue;
    lower_matmul_params(L, n, w, x, bias, y, m);
    finish();
    return;
  }
  const std::string dtype = L.suffix(x);
  // Without a bias the weights are bound in its place (never read).
  auto bind = [&](const std::string& variant) -> Dispatch& {
    return L.dispatch(kernel_name("conv", variant, dtype))
        .input(0, x).input(1, w).input(2, bias >= 0 ? bias : w).output(3, y).params(4, p);
  };
  if (uint64_t(p.batch) * p.out_c * p.out_h * p.out_w == 0) return;
  if (p.in_c_per_group == 1) {
    // Depthwise (any channel multiplier): a thread per 4 adjacent output pixels of a row.
    const bool window3 = p.kernel_h == 3 && p.kernel_w == 3 && p.dilation_h == 1 && p.dilation_w == 1 &&
                         p.stride_h == p.stride_w && p.stride_h <= 2;
    const std::string variant = window3 ? "depthwise_3x3s" + std::to_string(p.stride_h) : "depthwise";
    bind(variant).threads_1d(uint64_t(p.batch) * p.out_c * p.out_h * ((p.out_w + 3) / 4));
    finish();
    return;
  }
  // Implicit GEMM on 64 threads: tiles of 32 output channels x 32 pixels, or 8 x 128 where a group has
  // few output channels (less of the tile wasted).
  const uint32_t tile_oc = p.out_c_per_group <= 8 ? 8 : 32, tile_px = 1024 / tile_oc;
  std::string variant = "tiled";
  if (p.kernel_h == p.kernel_w && (p.kernel_h == 1 || p.kernel_h == 3))
    variant += p.kernel_h == 1 ? "_1x1" : "_3x3";
  if (tile_oc == 8) variant += "_oc8";
  const Size3 tiles{(p.out_h * p.out_w + tile_px - 1) / tile_px, (p.out_c_per_group + tile_oc - 1) / tile_oc,
                    p.batch * uint32_t(groups)};
  bind(variant).grid(tiles, Size3{64, 1, 1});
  finish();
}

}  // namespace metalnn::gpu
