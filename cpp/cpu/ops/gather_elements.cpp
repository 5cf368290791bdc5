// GatherElements kernel: walks the indices with a StridedLoop whose second cursor is the data offset
// of the same coordinates minus the axis term, then adds index * axis stride. Every index is checked
// before anything is written.
#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"
#include "cpu/strided_loop.h"

namespace metalnn::cpu {

namespace {

class GatherElementsKernel : public Kernel {
 public:
  GatherElementsKernel(const Graph& g, const Node& n)
      : label_(n.label()), elem_size_(dtype_size(input_value(g, n, 0).dtype)), loop_(make_loop(g, n, &axis_)) {
    const Shape& data = input_value(g, n, 0).shape;
    axis_size_ = data[axis_];
    axis_stride_ = shape_strides(data)[axis_];
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const Tensor& indices = *in[1];
    for (int64_t i = 0; i < indices.numel(); ++i) {
      const int64_t v = indices.int_at(i);
      if (v < -axis_size_ || v >= axis_size_)
        throw ShapeError(label_ + ": index " + std::to_string(v) + " is out of range for axis " +
                         std::to_string(axis_) + " of " + shape_str(in[0]->shape()));
    }
    visit_element_size(elem_size_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* data = static_cast<const T*>(in[0]->raw());
      T* y = static_cast<T*>(out[0]->raw());
      loop_.parallel_runs(pool, 1 << 14, [&](const StridedLoop::Offsets& off, int64_t count) {
        const int64_t sd = loop_.inner_stride(1);
        for (int64_t i = 0; i < count; ++i) {
          int64_t v = indices.int_at(off[0] + i);
          if (v < 0) v += axis_size_;
          y[off[0] + i] = data[off[1] + i * sd + v * axis_stride_];
        }
      });
    });
  }

 private:
  // Operand 0 walks the indices (and output) contiguously; operand 1 the data, with stride 0 on the axis.
  static StridedLoop make_loop(const Graph& g, const Node& n, int* axis) {
    const Shape& data = input_value(g, n, 0).shape;
    const Shape& indices = input_value(g, n, 1).shape;
    const int rank = static_cast<int>(data.size());
    *axis = static_cast<int>(n.attrs.get_int("axis", 0));
    if (*axis < 0) *axis += rank;
    std::vector<int64_t> data_strides = shape_strides(data);
    data_strides[*axis] = 0;
    return StridedLoop(indices, {shape_strides(indices), data_strides});
  }

  std::string label_;
  size_t elem_size_;
  int axis_ = 0;
  StridedLoop loop_;
  int64_t axis_size_ = 0, axis_stride_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_gather_elements_kernel(const Graph& g, const Node& n) {
  return std::make_unique<GatherElementsKernel>(g, n);
}

}  // namespace metalnn::cpu
