// MatMulInteger (metal/matmul_integer.metal): A's leading dims flattened into M; an absent zero point
// binds one zero byte. Float32 precision only.
#include "gpu/ops/common.h"
#include "gpu/ops/quantize.h"

namespace metalnn::gpu {

void lower_matmul_integer(Lowering& L, const Node& n) {
  // Its int32 sums feed float math (Cast, then the scales' Mul), where they would overflow half.
  if (L.float_storage() == DType::Float16)
    unsupported(n, "MatMulInteger at float16 precision (its int32 sums exceed float16 once cast); use float32");
  const int a = n.inputs[0], b = n.inputs[1];
  const Shape& bs = L.shape(b);
  MatMulIntegerParams p{};
  p.count = u32(n, shape_numel(L.shape(n.outputs[0])));
  if (p.count == 0) return;
  p.n = u32(n, bs[1]);
  p.k = u32(n, bs[0]);
  const bool per_column = Lowering::has_input(n, 3) && shape_numel(L.shape(n.inputs[3])) > 1;
  p.zb_stride = per_column ? 1 : 0;
  Dispatch& d = L.dispatch(kernel_name("matmul_integer", quantized_suffix(n, L.value(a).dtype),
                                       quantized_suffix(n, L.value(b).dtype)));
  d.input(0, a).input(1, b).output(4, n.outputs[0]).params(5, p).threads_1d(p.count);
  const unsigned char zero = 0;
  for (int i : {2, 3}) {
    if (Lowering::has_input(n, i)) d.input(uint32_t(i), n.inputs[i]);
    else d.buffer(uint32_t(i), L.upload_bytes(&zero, 1));
  }
}

}  // namespace metalnn::gpu
