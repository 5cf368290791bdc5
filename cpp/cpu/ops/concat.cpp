// Concat kernel: each input is copied into its band of the output along the axis, unless the memory
// plan had its producer write it there (core/plan.h concat_views).
#include "cpu/axis_bands.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"

namespace metalnn::cpu {

namespace {

class ConcatKernel : public Kernel {
 public:
  ConcatKernel(const Graph& g, const Node& n) {
    const Value& out = output_value(g, n, 0);
    const int rank = static_cast<int>(out.shape.size());
    const int64_t axis = n.attrs.get_int("axis", 0);
    std::vector<Shape> parts;
    for (size_t i = 0; i < n.inputs.size(); ++i) parts.push_back(input_value(g, n, static_cast<int>(i)).shape);
    bands_ = axis_bands(dtype_size(out.dtype), out.shape, parts, static_cast<int>(axis < 0 ? axis + rank : axis),
                        BandCopy::PartToWhole);
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    char* whole = static_cast<char*>(out[0]->raw());
    const size_t elem = dtype_size(out[0]->dtype());
    for (size_t i = 0; i < bands_.size(); ++i) {
      char* band = whole + bands_[i].whole_offset * elem;
      if (in[i]->raw() != band) bands_[i].copy.run(band, in[i]->raw(), pool);  // else planned in place
    }
  }

 private:
  std::vector<AxisBand> bands_;
};

}  // namespace

std::unique_ptr<Kernel> make_concat_kernel(const Graph& g, const Node& n) { return std::make_unique<ConcatKernel>(g, n); }

}  // namespace metalnn::cpu
