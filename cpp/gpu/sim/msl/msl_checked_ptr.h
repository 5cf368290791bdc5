// Bounds-checked kernel buffer parameters: a custom kernel's `device T* p [[buffer(i)]]` is
// translated (bounds_check=True) into checked_ptr<T>, which faults, naming the buffer, the element
// and the buffer's size, when the kernel indexes or dereferences it outside the bound buffer. It
// converts to a plain pointer for helper functions and casts (accesses through those are unchecked).
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../kernel_abi.h"

namespace metal_sim {

template <class T>
class checked_ptr {
 public:
  using element_type = T;
  checked_ptr() = default;
  checked_ptr(T* p, const void* begin, size_t length, const ParamSpec* spec)
      : p_(p), begin_(static_cast<const unsigned char*>(begin)), length_(length), spec_(spec) {}

  operator T*() const { return p_; }  // NOLINT: passed to helpers taking MSL pointers
  template <class U>
  explicit operator U*() const {  // (device float4*)p
    return (U*)p_;
  }

  template <class I, class = std::enable_if_t<std::is_integral_v<I>>>
  T& operator[](I i) const {
    check(ptrdiff_t(i));
    return p_[i];
  }
  T& operator*() const {
    check(0);
    return *p_;
  }
  T* operator->() const {
    check(0);
    return p_;
  }
  template <class I, class = std::enable_if_t<std::is_integral_v<I>>>
  checked_ptr operator+(I i) const { return with(p_ + i); }
  template <class I, class = std::enable_if_t<std::is_integral_v<I>>>
  checked_ptr operator-(I i) const { return with(p_ - i); }
  ptrdiff_t operator-(const checked_ptr& other) const { return p_ - other.p_; }
  template <class I>
  checked_ptr& operator+=(I i) { return p_ += i, *this; }
  template <class I>
  checked_ptr& operator-=(I i) { return p_ -= i, *this; }
  checked_ptr& operator++() { return ++p_, *this; }
  checked_ptr& operator--() { return --p_, *this; }
  checked_ptr operator++(int) { checked_ptr old = *this; ++p_; return old; }
  checked_ptr operator--(int) { checked_ptr old = *this; --p_; return old; }

 private:
  checked_ptr with(T* p) const { return checked_ptr(p, begin_, length_, spec_); }

  void check(ptrdiff_t i) const {
    const ptrdiff_t byte = reinterpret_cast<const unsigned char*>(p_ + i) - begin_;
    if (byte >= 0 && size_t(byte) + sizeof(T) <= length_) return;
    const ptrdiff_t element = (reinterpret_cast<const unsigned char*>(p_) - begin_) / ptrdiff_t(sizeof(T)) + i;
    char message[256];  // no <string> here: C library headers would clash with metal:: (kernel_abi.h)
    __builtin_snprintf(message, sizeof message,
                       "out-of-bounds access to buffer(%u) '%s': element %lld (%zu bytes at byte offset %lld) "
                       "of a %zu-byte buffer",
                       unsigned(spec_->index), spec_->name, (long long)element, sizeof(T), (long long)byte, length_);
    kernel_fault(message);
  }

  T* p_ = nullptr;
  const unsigned char* begin_ = nullptr;
  size_t length_ = 0;
  const ParamSpec* spec_ = nullptr;
};

template <class T>
struct is_checked_ptr : std::false_type {};
template <class T>
struct is_checked_ptr<checked_ptr<T>> : std::true_type {};

}  // namespace metal_sim
