// Transpose schema: out dim i is input dim perm[i]; perm must be a permutation of the input's axes.
#include "core/ops/transpose.h"

#include "core/ops/tensor_checks.h"

namespace metalnn {

std::vector<int64_t> transpose_perm(const Attributes& attrs, int rank) {
  if (attrs.has("perm")) return attrs.get_ints("perm");
  std::vector<int64_t> perm(rank);
  for (int i = 0; i < rank; ++i) perm[i] = rank - 1 - i;
  return perm;
}

void infer_transpose(InferContext& ctx) {
  ctx.check_inputs(1, 1);
  const Shape& in = ctx.input_shape(0);
  const int rank = static_cast<int>(in.size());
  const std::vector<int64_t> perm = transpose_perm(ctx.attrs(), rank);
  std::vector<char> used(rank, 0);
  bool ok = static_cast<int>(perm.size()) == rank;
  for (size_t i = 0; ok && i < perm.size(); ++i) {
    ok = perm[i] >= 0 && perm[i] < rank && !used[perm[i]];
    if (ok) used[perm[i]] = 1;
  }
  if (!ok) ctx.fail_model("perm " + shape_str(perm) + " is not a permutation of the " + std::to_string(rank) + " axes of " + shape_str(in));
  Shape out(rank);
  for (int i = 0; i < rank; ++i) out[i] = in[perm[i]];
  ctx.set_output(0, ctx.input_dtype(0), out);
}

}  // namespace metalnn
