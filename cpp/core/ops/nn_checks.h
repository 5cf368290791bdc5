// Input checks shared by the neural-network op schemas (Conv, Gemm, MatMul, pools, normalisations,
// softmax), which compute in float32 only.
#pragma once
#include "core/op_schema.h"

namespace metalnn {

// Fails with DtypeError naming the first present input that is not float32.
inline void require_float32_inputs(const InferContext& ctx) {
  for (int i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i) && ctx.input_dtype(i) != DType::Float32)
      ctx.fail_dtype("input " + std::to_string(i) + " '" + ctx.input(i).name + "' is " +
                     dtype_name(ctx.input_dtype(i)) + ", expected float32");
}

// Fails with UnsupportedOpError when spatial rank (rank - 2) is not 1 or 2.
inline void require_1d_or_2d(const InferContext& ctx, const char* what) {
  int rank = ctx.input_rank(0);
  if (rank < 3)
    ctx.fail_shape(std::string("input '") + ctx.input(0).name + "' has " + std::to_string(rank) +
                   " dims, expected 3 or 4 (N, C, spatial...)");
  if (rank > 4)
    ctx.fail_unsupported(std::to_string(rank - 2) + "-D " + what + " is not supported (input '" +
                         ctx.input(0).name + "' has rank " + std::to_string(rank) + "); only 1-D and 2-D");
}

}  // namespace metalnn
