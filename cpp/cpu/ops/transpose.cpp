// Transpose kernel: output dim i walks input dim perm[i] (a strided view copy), or, when the
// permutation swaps two groups of axes, a tiled transpose of planes, which may take over a
// LayerNormalization over the last axis after it (cpu/layer_norm_planes.h).
#include "core/ops/transpose.h"
#include "core/ops/axis.h"
#include "cpu/layer_norm_planes.h"
#include "cpu/node_values.h"
#include "cpu/ops/view_copy.h"
#include "cpu/plane_transpose.h"

namespace metalnn::cpu {

namespace {

// The constant float32 input i of n holding `width` values along its last axis, or nullptr.
const float* row_constant(const Graph& g, const Node& n, int i, int64_t width) {
  if (!has_input(n, i)) return nullptr;
  const Value& v = g.value(n.inputs[i]);
  if (!v.is_constant() || v.dtype != DType::Float32 || v.shape.empty() || v.shape.back() != width ||
      v.constant.numel() != width)
    return nullptr;
  return v.constant.data<float>();
}

class PlaneTransposeKernel : public Kernel {
 public:
  PlaneTransposeKernel(PlaneTranspose t, DType dtype, Shape out) : transpose_(t), dtype_(dtype), out_(std::move(out)) {}

  // A LayerNormalization over the last axis, when that axis is the whole of the planes' rows (the
  // channels of NCHW -> NHWC) and its scale and bias are constants.
  bool absorb_consumer(const Graph& g, const Node& consumer) override {
    if (consumer.op_type != "LayerNormalization" || dtype_ != DType::Float32 || !plane_transpose_avx512() ||
        out_.empty() || out_.back() != transpose_.rows())
      return false;
    for (size_t i = 1; i < consumer.outputs.size(); ++i)
      if (consumer.outputs[i] >= 0) return false;
    const int rank = static_cast<int>(out_.size());
    if (node_axis(consumer, rank, -1) != rank - 1) return false;
    const int64_t width = transpose_.rows();
    const float* scale = row_constant(g, consumer, 1, width);
    const float* bias = row_constant(g, consumer, 2, width);
    if (!scale || (has_input(consumer, 2) && !bias)) return false;
    layer_norm_ = std::make_unique<LayerNormPlanes>(transpose_.batch(), width, transpose_.cols(),
                                                    consumer.attrs.get_float("epsilon", 1e-5f), scale, bias);
    return true;
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    if (layer_norm_)
      layer_norm_->run(out[0]->data<float>(), in[0]->data<float>(), pool);
    else
      transpose_.run(out[0]->raw(), in[0]->raw(), pool);
  }

 private:
  PlaneTranspose transpose_;
  DType dtype_;
  Shape out_;
  std::unique_ptr<LayerNormPlanes> layer_norm_;
};

}  // namespace

std::unique_ptr<Kernel> make_transpose_kernel(const Graph& g, const Node& n) {
  const Value& in = input_value(g, n, 0);
  const std::vector<int64_t> perm = transpose_perm(n.attrs, static_cast<int>(in.shape.size()));
  int64_t batch = 0, rows = 0, cols = 0;
  if (PlaneTranspose::match(in.shape, perm, batch, rows, cols) && rows > 1 && cols > 1)
    return std::make_unique<PlaneTransposeKernel>(PlaneTranspose(dtype_size(in.dtype), batch, rows, cols), in.dtype,
                                                  output_value(g, n, 0).shape);
  const std::vector<int64_t> in_strides = shape_strides(in.shape);
  std::vector<int64_t> strides(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) strides[i] = in_strides[perm[i]];
  return std::make_unique<ViewCopyKernel>(in.dtype, output_value(g, n, 0).shape, 0, strides);
}

}  // namespace metalnn::cpu
