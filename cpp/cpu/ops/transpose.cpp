// Transpose kernel: output dim i walks input dim perm[i] (a strided view copy), or, when the
// permutation swaps two groups of axes, a tiled transpose of planes.
#include "core/ops/transpose.h"
#include "cpu/node_values.h"
#include "cpu/ops/view_copy.h"
#include "cpu/plane_transpose.h"

namespace metalnn::cpu {

namespace {

class PlaneTransposeKernel : public Kernel {
 public:
  explicit PlaneTransposeKernel(PlaneTranspose t) : transpose_(t) {}
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    transpose_.run(out[0]->raw(), in[0]->raw(), pool);
  }

 private:
  PlaneTranspose transpose_;
};

}  // namespace

std::unique_ptr<Kernel> make_transpose_kernel(const Graph& g, const Node& n) {
  const Value& in = input_value(g, n, 0);
  const std::vector<int64_t> perm = transpose_perm(n.attrs, static_cast<int>(in.shape.size()));
  int64_t batch = 0, rows = 0, cols = 0;
  if (PlaneTranspose::match(in.shape, perm, batch, rows, cols) && rows > 1 && cols > 1)
    return std::make_unique<PlaneTransposeKernel>(PlaneTranspose(dtype_size(in.dtype), batch, rows, cols));
  const std::vector<int64_t> in_strides = shape_strides(in.shape);
  std::vector<int64_t> strides(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) strides[i] = in_strides[perm[i]];
  return std::make_unique<ViewCopyKernel>(in.dtype, output_value(g, n, 0).shape, 0, strides);
}

}  // namespace metalnn::cpu
