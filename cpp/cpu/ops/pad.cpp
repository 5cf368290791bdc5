// Pad kernel: for every output axis a precomputed map says which input index each output index reads
// (-1: the constant value), which covers constant, reflect and edge modes and negative (cropping)
// pads alike. Work is split over output rows (all dims but the last); the middle of each row that
// reads the input contiguously is one memcpy.
#include <algorithm>
#include <cstring>

#include "core/ops/pad.h"
#include "core/sizes.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"

namespace metalnn::cpu {

namespace {

// Input index read by output index o of an axis of `dim` elements padded by `before`, or -1.
int64_t source_index(int64_t o, int64_t before, int64_t dim, PadMode mode) {
  const int64_t i = o - before;
  if (i >= 0 && i < dim) return i;
  switch (mode) {
    case PadMode::Constant: return -1;
    case PadMode::Edge: return i < 0 ? 0 : dim - 1;
    case PadMode::Reflect: return i < 0 ? -i : 2 * (dim - 1) - i;  // the schema bounds pads by dim - 1
  }
  return -1;
}

class PadKernel : public Kernel {
 public:
  PadKernel(const Graph& g, const Node& n) {
    const Value& in = input_value(g, n, 0);
    // Rank 0 pads nothing; treating it as [1] keeps one code path.
    in_shape_ = in.shape.empty() ? Shape{1} : in.shape;
    out_shape_ = in.shape.empty() ? Shape{1} : output_value(g, n, 0).shape;
    elem_size_ = dtype_size(in.dtype);
    PadMode mode = PadMode::Constant;
    parse_pad_mode(n.attrs.get_string("mode", "constant"), &mode);
    const PadAmounts amounts = resolve_pads(static_cast<int>(in.shape.size()), constant_ints(g, n, 1), constant_ints(g, n, 3));
    const int rank = static_cast<int>(in_shape_.size());
    maps_.resize(rank);
    // An empty output needs no tables, however long its other axes (bounded by 2^40 each).
    const bool empty = shape_numel(out_shape_) == 0;
    for (int d = 0; d < rank && !empty; ++d) {
      const int64_t before = in.shape.empty() ? 0 : amounts.before[d];
      reserve_table(maps_[d], out_shape_[d], n.label() + ": output '" + output_value(g, n, 0).name + "'");
      for (int64_t o = 0; o < out_shape_[d]; ++o) maps_[d].push_back(source_index(o, before, in_shape_[d], mode));
    }
    // The stretch of the last axis that maps to consecutive input elements.
    const int64_t before = in.shape.empty() ? 0 : amounts.before.back();
    run_begin_ = std::clamp<int64_t>(before, 0, out_shape_.back());
    run_end_ = std::clamp<int64_t>(before + in_shape_.back(), run_begin_, out_shape_.back());
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    visit_element_size(elem_size_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T fill{};
      if (in.size() > 2 && in[2]) std::memcpy(&fill, in[2]->raw(), sizeof(T));
      run_typed(in[0]->data<T>(), out[0]->data<T>(), fill, pool);
    });
  }

 private:
  template <class T>
  void run_typed(const T* src, T* dst, T fill, ThreadPool& pool) const {
    const int rank = static_cast<int>(out_shape_.size());
    const int64_t width = out_shape_.back();
    const int64_t rows = width == 0 ? 0 : shape_numel(out_shape_) / width;
    const std::vector<int64_t> in_strides = shape_strides(in_shape_);
    const std::vector<int64_t>& last = maps_.back();
    pool.parallel_for(rows, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, width)), [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        T* out_row = dst + row * width;
        // Input row offset from the outer coordinates; -1 when any of them falls in constant padding.
        int64_t src_offset = 0;
        for (int64_t d = rank - 2, rest = row; d >= 0 && src_offset >= 0; --d) {
          const int64_t s = maps_[d][rest % out_shape_[d]];
          rest /= out_shape_[d];
          src_offset = s < 0 ? -1 : src_offset + s * in_strides[d];
        }
        if (src_offset < 0) {
          std::fill(out_row, out_row + width, fill);
          continue;
        }
        const T* in_row = src + src_offset;
        for (int64_t o = 0; o < run_begin_; ++o) out_row[o] = last[o] < 0 ? fill : in_row[last[o]];
        if (run_end_ > run_begin_)
          std::memcpy(out_row + run_begin_, in_row + last[run_begin_], static_cast<size_t>(run_end_ - run_begin_) * sizeof(T));
        for (int64_t o = run_end_; o < width; ++o) out_row[o] = last[o] < 0 ? fill : in_row[last[o]];
      }
    });
  }

  Shape in_shape_, out_shape_;
  size_t elem_size_ = 0;
  std::vector<std::vector<int64_t>> maps_;  // per axis, per output index: input index or -1
  int64_t run_begin_ = 0, run_end_ = 0;     // output range of the last axis copied contiguously
};

}  // namespace

std::unique_ptr<Kernel> make_pad_kernel(const Graph& g, const Node& n) { return std::make_unique<PadKernel>(g, n); }

}  // namespace metalnn::cpu
