// MatMulNBits schema (com.microsoft): A float [..., K] times 4-bit block-quantized B [N, k_blocks,
// block_size / 2] (uint8, two codes a byte) into [..., N]. Only bits = 4 and no g_idx.
#include "core/ops/matmul_nbits.h"

#include "core/ops/tensor_checks.h"

namespace metalnn {

namespace {
bool has(const Node& n, int i) { return i < int(n.inputs.size()) && n.inputs[i] >= 0; }
}  // namespace

NBitsGeometry nbits_geometry(const Graph& g, const Node& n) {
  NBitsGeometry geo;
  geo.k = n.attrs.get_int("K", 0);
  geo.n = n.attrs.get_int("N", 0);
  geo.block_size = n.attrs.get_int("block_size", 0);
  geo.k_blocks = geo.block_size > 0 ? (geo.k + geo.block_size - 1) / geo.block_size : 0;
  geo.blob_bytes = geo.block_size / 2;
  geo.zp_row_bytes = (geo.k_blocks + 1) / 2;
  if (has(n, 3))
    geo.zero_points = g.value(n.inputs[3]).dtype == DType::UInt8 ? NBitsZeroPoints::kPacked : NBitsZeroPoints::kFloat;
  geo.has_bias = has(n, 5);
  return geo;
}

void infer_matmul_nbits(InferContext& ctx) {
  ctx.check_inputs(3, 6);
  const Attributes& attrs = ctx.attrs();
  for (const char* name : {"K", "N", "block_size"})
    if (!attrs.has(name)) ctx.fail_model(std::string("attribute '") + name + "' is required");
  const int64_t bits = attrs.get_int("bits", 4);
  if (bits != 4) ctx.fail_unsupported("bits = " + std::to_string(bits) + "; only 4-bit weights are supported");
  const int64_t block = attrs.get_int("block_size", 0);
  if (block < 16 || (block & (block - 1)) != 0)
    ctx.fail_model("block_size " + std::to_string(block) + " is not a power of two >= 16");
  if (attrs.get_int("weight_prepacked", 0) != 0) ctx.fail_unsupported("weights prepacked for another runtime");
  if (ctx.has_input(4)) ctx.fail_unsupported("g_idx '" + ctx.input(4).name + "' (deprecated) is not supported");
  const NBitsGeometry geo = nbits_geometry(ctx.graph(), ctx.node());
  if (geo.k <= 0 || geo.n <= 0)
    ctx.fail_model("K = " + std::to_string(geo.k) + " and N = " + std::to_string(geo.n) + " must be positive");

  require_dtype(ctx, 0, {DType::Float32});
  require_dtype(ctx, 1, {DType::UInt8});
  require_dtype(ctx, 2, {DType::Float32});
  const Shape& a = ctx.input_shape(0);
  if (a.empty()) ctx.fail_shape("A '" + ctx.input(0).name + "' is a scalar, expected [..., " + std::to_string(geo.k) + "]");
  if (a.back() >= 0 && a.back() != geo.k)
    ctx.fail_shape("A " + shape_str(a) + " has last dim " + std::to_string(a.back()) + ", expected K = " +
                   std::to_string(geo.k));
  const Shape b_expected = {geo.n, geo.k_blocks, geo.blob_bytes};
  if (ctx.input_shape(1) != b_expected)
    ctx.fail_shape("B '" + ctx.input(1).name + "' " + shape_str(ctx.input_shape(1)) + ", expected " +
                   shape_str(b_expected) + " (N, ceil(K / block_size), block_size / 2)");
  // A tensor of `count` elements shaped [count] or [N, count / N].
  auto check_per_row = [&](int i, const char* what, int64_t per_row) {
    const Shape& s = ctx.input_shape(i);
    if (!(s == Shape{geo.n * per_row} || s == Shape{geo.n, per_row}))
      ctx.fail_shape(std::string(what) + " '" + ctx.input(i).name + "' " + shape_str(s) + ", expected [" +
                     std::to_string(geo.n) + ", " + std::to_string(per_row) + "] or [" +
                     std::to_string(geo.n * per_row) + "]");
  };
  check_per_row(2, "scales", geo.k_blocks);
  if (ctx.has_input(3)) {
    require_dtype(ctx, 3, {DType::UInt8, DType::Float32});
    check_per_row(3, "zero_points", geo.zero_points == NBitsZeroPoints::kPacked ? geo.zp_row_bytes : geo.k_blocks);
  }
  if (ctx.has_input(5)) {
    require_dtype(ctx, 5, {DType::Float32});
    if (ctx.input_shape(5) != Shape{geo.n})
      ctx.fail_shape("bias '" + ctx.input(5).name + "' " + shape_str(ctx.input_shape(5)) + ", expected [" +
                     std::to_string(geo.n) + "]");
  }
  Shape out = a;
  out.back() = geo.n;
  ctx.set_output(0, DType::Float32, out);
}

}  // namespace metalnn
