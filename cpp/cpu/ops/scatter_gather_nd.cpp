// GatherND, ScatterND and ScatterElements kernels. Every index is checked before anything is written
// (an out-of-range value is a ShapeError naming the node and the indices tensor). Scatters copy the
// data, then apply the updates in index order, so with duplicate indices the last update wins
// (reduction none) or all of them combine.
#include <cstring>

#include "core/ops/scatter_gather_nd.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"

namespace metalnn::cpu {

namespace {

// Index value v (negative from the end) along a dim of `size`, or a ShapeError.
int64_t checked_index(const std::string& label, const std::string& tensor, int64_t v, int64_t size, int64_t dim) {
  if (v < -size || v >= size)
    throw ShapeError(label + ": indices '" + tensor + "' holds " + std::to_string(v) + ", out of range for data dim " +
                     std::to_string(dim) + " of size " + std::to_string(size));
  return v < 0 ? v + size : v;
}

template <class T>
void combine(ScatterReduction r, T& dst, T v) {
  switch (r) {
    case ScatterReduction::None: dst = v; break;
    case ScatterReduction::Add: dst = T(dst + v); break;
    case ScatterReduction::Mul: dst = T(dst * v); break;
    case ScatterReduction::Max: dst = v > dst ? v : dst; break;
    case ScatterReduction::Min: dst = v < dst ? v : dst; break;
  }
}

// The data offset of every tuple, checked.
std::vector<int64_t> tuple_offsets(const std::string& label, const std::string& tensor, const IndexTuples& t,
                                   const Tensor& indices, int64_t batch_dims) {
  std::vector<int64_t> offsets(static_cast<size_t>(t.batch * t.tuples));
  for (int64_t b = 0; b < t.batch; ++b)
    for (int64_t i = 0; i < t.tuples; ++i) {
      const int64_t row = b * t.tuples + i;
      int64_t offset = b * t.batch_stride;
      for (int64_t j = 0; j < t.k; ++j)
        offset += checked_index(label, tensor, indices.int_at(row * t.k + j), t.dims[size_t(j)], batch_dims + j) *
                  t.strides[size_t(j)];
      offsets[size_t(row)] = offset;
    }
  return offsets;
}

class GatherNDKernel : public Kernel {
 public:
  GatherNDKernel(const Graph& g, const Node& n)
      : label_(n.label()), indices_name_(input_value(g, n, 1).name), batch_dims_(n.attrs.get_int("batch_dims", 0)),
        elem_size_(dtype_size(input_value(g, n, 0).dtype)),
        t_(index_tuples(input_value(g, n, 0).shape, input_value(g, n, 1).shape, batch_dims_)) {}

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool&) override {
    const std::vector<int64_t> offsets = tuple_offsets(label_, indices_name_, t_, *in[1], batch_dims_);
    const char* data = static_cast<const char*>(in[0]->raw());
    char* y = static_cast<char*>(out[0]->raw());
    const size_t bytes = size_t(t_.slice) * elem_size_;
    for (size_t r = 0; r < offsets.size(); ++r) std::memcpy(y + r * bytes, data + size_t(offsets[r]) * elem_size_, bytes);
  }

 private:
  std::string label_, indices_name_;
  int64_t batch_dims_;
  size_t elem_size_;
  IndexTuples t_;
};

// What ScatterND and ScatterElements share: the output is the data with runs of `slice` updates
// combined in at element offsets the subclass computes from the indices.
class ScatterKernel : public Kernel {
 protected:
  ScatterKernel(const Graph& g, const Node& n)
      : label_(n.label()), indices_name_(input_value(g, n, 1).name), dtype_(input_value(g, n, 0).dtype),
        reduction_(scatter_reduction(n)) {}

  void scatter(const std::vector<const Tensor*>& in, Tensor& out, const std::vector<int64_t>& offsets,
               int64_t slice) const {
    std::memcpy(out.raw(), in[0]->raw(), in[0]->nbytes());
    visit_any_dtype(dtype_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* updates = static_cast<const T*>(in[2]->raw());
      T* y = static_cast<T*>(out.raw());
      for (size_t r = 0; r < offsets.size(); ++r)
        for (int64_t s = 0; s < slice; ++s) combine(reduction_, y[offsets[r] + s], updates[int64_t(r) * slice + s]);
    });
  }

  std::string label_, indices_name_;

 private:
  DType dtype_;
  ScatterReduction reduction_;
};

class ScatterNDKernel : public ScatterKernel {
 public:
  ScatterNDKernel(const Graph& g, const Node& n)
      : ScatterKernel(g, n), t_(index_tuples(input_value(g, n, 0).shape, input_value(g, n, 1).shape, 0)) {}

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool&) override {
    scatter(in, *out[0], tuple_offsets(label_, indices_name_, t_, *in[1], 0), t_.slice);
  }

 private:
  IndexTuples t_;
};

class ScatterElementsKernel : public ScatterKernel {
 public:
  ScatterElementsKernel(const Graph& g, const Node& n) : ScatterKernel(g, n), indices_(input_value(g, n, 1).shape) {
    const Shape& data = input_value(g, n, 0).shape;
    axis_ = int(n.attrs.get_int("axis", 0));
    if (axis_ < 0) axis_ += int(data.size());
    axis_size_ = data[size_t(axis_)];
    data_strides_ = shape_strides(data);
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool&) override {
    const Tensor& indices = *in[1];
    const int64_t count = indices.numel();
    std::vector<int64_t> offsets(static_cast<size_t>(count));
    std::vector<int64_t> coord(indices_.size(), 0);
    for (int64_t i = 0; i < count; ++i) {
      int64_t offset = 0;
      for (size_t d = 0; d < coord.size(); ++d)
        offset += (int(d) == axis_ ? checked_index(label_, indices_name_, indices.int_at(i), axis_size_, axis_) : coord[d]) *
                  data_strides_[d];
      offsets[size_t(i)] = offset;
      for (int d = int(coord.size()) - 1; d >= 0 && ++coord[size_t(d)] == indices_[size_t(d)]; --d) coord[size_t(d)] = 0;
    }
    scatter(in, *out[0], offsets, 1);
  }

 private:
  Shape indices_;
  int axis_ = 0;
  int64_t axis_size_ = 0;
  std::vector<int64_t> data_strides_;
};

}  // namespace

std::unique_ptr<Kernel> make_gather_nd_kernel(const Graph& g, const Node& n) { return std::make_unique<GatherNDKernel>(g, n); }
std::unique_ptr<Kernel> make_scatter_nd_kernel(const Graph& g, const Node& n) { return std::make_unique<ScatterNDKernel>(g, n); }
std::unique_ptr<Kernel> make_scatter_elements_kernel(const Graph& g, const Node& n) {
  return std::make_unique<ScatterElementsKernel>(g, n);
}

}  // namespace metalnn::cpu
