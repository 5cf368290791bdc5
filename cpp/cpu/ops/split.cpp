// Split kernel: each output is copied out of its band of the input along the axis (band sizes are the
// outputs' inferred shapes).
#include "cpu/axis_bands.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"

namespace metalnn::cpu {

namespace {

class SplitKernel : public Kernel {
 public:
  SplitKernel(const Graph& g, const Node& n) {
    const Value& in = input_value(g, n, 0);
    const int rank = static_cast<int>(in.shape.size());
    const int64_t axis = n.attrs.get_int("axis", 0);
    std::vector<Shape> parts;
    for (size_t i = 0; i < n.outputs.size(); ++i) parts.push_back(output_value(g, n, static_cast<int>(i)).shape);
    bands_ = axis_bands(dtype_size(in.dtype), in.shape, parts, static_cast<int>(axis < 0 ? axis + rank : axis),
                        BandCopy::WholeToPart);
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const char* whole = static_cast<const char*>(in[0]->raw());
    const size_t elem = dtype_size(in[0]->dtype());
    for (size_t i = 0; i < bands_.size(); ++i) bands_[i].copy.run(out[i]->raw(), whole + bands_[i].whole_offset * elem, pool);
  }

 private:
  std::vector<AxisBand> bands_;
};

}  // namespace

std::unique_ptr<Kernel> make_split_kernel(const Graph& g, const Node& n) { return std::make_unique<SplitKernel>(g, n); }

}  // namespace metalnn::cpu
