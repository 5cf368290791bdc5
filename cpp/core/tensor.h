// A typed, shaped view of memory plus whatever keeps that memory alive (owned bytes, a NumPy array, a mapping).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace metalnn {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);
// Row-major strides in elements.
std::vector<int64_t> shape_strides(const Shape& s);

class Tensor {
 public:
  Tensor() = default;
  // Views external memory; `owner` keeps it alive (may be null when the caller guarantees lifetime).
  Tensor(DType dtype, Shape shape, void* data, std::shared_ptr<const void> owner = nullptr);
  // Allocates zeroed, 64-byte-aligned storage; throws ShapeError (shape over the size limits) or
  // AllocationError, each starting with `what` (the tensor's name and node, when known).
  static Tensor empty(DType dtype, const Shape& shape, const std::string& what = "tensor");

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_[i]; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool defined() const { return dtype_ != DType::Undefined; }

  void* raw() const { return data_; }
  template <typename T>
  T* data() const { return static_cast<T*>(data_); }
  const std::shared_ptr<const void>& owner() const { return owner_; }

  // Same memory, another shape with the same element count.
  Tensor reshaped(const Shape& shape) const;
  // Reads element i as int64 / double whatever the dtype (for shape arithmetic and attributes).
  int64_t int_at(int64_t i) const;
  double float_at(int64_t i) const;
  std::vector<int64_t> to_int_vector() const;

 private:
  DType dtype_ = DType::Undefined;
  Shape shape_;
  void* data_ = nullptr;
  std::shared_ptr<const void> owner_;
};

}  // namespace metalnn
