#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"
#include "core/sizes.h"

namespace metalnn {

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

std::vector<int64_t> shape_strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int i = static_cast<int>(s.size()) - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}

Tensor::Tensor(DType dtype, Shape shape, void* data, std::shared_ptr<const void> owner)
    : dtype_(dtype), shape_(std::move(shape)), data_(data), owner_(std::move(owner)) {}

Tensor Tensor::empty(DType dtype, const Shape& shape, const std::string& what) {
  const uint64_t bytes = checked_nbytes(dtype, shape, what);
  size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p)
    throw AllocationError(what + ": cannot allocate " + std::to_string(bytes) + " bytes for " + dtype_name(dtype) +
                          " " + shape_str(shape));
  std::memset(p, 0, rounded);
  std::shared_ptr<const void> owner(p, [](const void* q) { std::free(const_cast<void*>(q)); });
  return Tensor(dtype, shape, p, std::move(owner));
}

Tensor Tensor::reshaped(const Shape& shape) const {
  if (shape_numel(shape) != numel())
    throw ShapeError("cannot view " + shape_str(shape_) + " as " + shape_str(shape));
  return Tensor(dtype_, shape, data_, owner_);
}

int64_t Tensor::int_at(int64_t i) const {
  switch (dtype_) {
    case DType::Int64: return data<int64_t>()[i];
    case DType::Int32: return data<int32_t>()[i];
    case DType::Int8: return data<int8_t>()[i];
    case DType::UInt8: return data<uint8_t>()[i];
    case DType::Bool: return data<uint8_t>()[i] != 0;
    case DType::Float32: return static_cast<int64_t>(data<float>()[i]);
    case DType::Float16: return static_cast<int64_t>(static_cast<float>(data<_Float16>()[i]));
    case DType::Undefined: break;
  }
  throw DtypeError("cannot read an undefined tensor");
}

double Tensor::float_at(int64_t i) const {
  switch (dtype_) {
    case DType::Float32: return data<float>()[i];
    case DType::Float16: return static_cast<float>(data<_Float16>()[i]);
    default: return static_cast<double>(int_at(i));
  }
}

std::vector<int64_t> Tensor::to_int_vector() const {
  std::vector<int64_t> v(static_cast<size_t>(numel()));
  for (int64_t i = 0; i < numel(); ++i) v[i] = int_at(i);
  return v;
}

}  // namespace metalnn
