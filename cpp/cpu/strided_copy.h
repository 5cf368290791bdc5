// Copies one strided view of memory into another of the same shape, whatever the element type: the
// body of Transpose, Slice, Expand, Concat and Split. Built once at compile time, run per inference.
#pragma once
#include <cstddef>
#include <vector>

#include "cpu/strided_loop.h"

namespace metalnn::cpu {

class StridedCopy {
 public:
  // Strides in elements of `elem_size` bytes; src strides may be 0 (broadcast) or negative.
  StridedCopy(size_t elem_size, const Shape& shape, const std::vector<int64_t>& dst_strides,
              const std::vector<int64_t>& src_strides);
  // dst and src point at the views' first elements.
  void run(void* dst, const void* src, ThreadPool& pool) const;

 private:
  size_t elem_size_;
  StridedLoop loop_;
};

}  // namespace metalnn::cpu
