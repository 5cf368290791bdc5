// The kernel of ops whose output is a strided view of their input (Transpose, Slice, Expand): each
// op's factory works out the view, this copies it into the contiguous output.
#pragma once
#include <memory>

#include "cpu/kernel.h"
#include "cpu/strided_copy.h"

namespace metalnn::cpu {

class ViewCopyKernel : public Kernel {
 public:
  // The output (shape `out`, dtype `dtype`) reads input element src_offset + sum(i_d * src_strides[d]).
  ViewCopyKernel(DType dtype, const Shape& out, int64_t src_offset, const std::vector<int64_t>& src_strides)
      : elem_size_(dtype_size(dtype)), src_offset_(src_offset), copy_(elem_size_, out, shape_strides(out), src_strides) {}

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    copy_.run(out[0]->raw(), static_cast<const char*>(in[0]->raw()) + src_offset_ * static_cast<int64_t>(elem_size_), pool);
  }

 private:
  size_t elem_size_;
  int64_t src_offset_;
  StridedCopy copy_;
};

}  // namespace metalnn::cpu
