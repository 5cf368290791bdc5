// Scratch and packed buffers on cache-line boundaries. std::vector<float>'s 16-byte alignment lets a
// 64-byte vector load straddle two lines (three loads in four for a panel read at random alignment),
// which the GEMM kernels pay on every K step: measured, one 3x3 stride-2 layer ran 12-16% slower or
// faster as heap addresses moved.
#pragma once
#include <cstddef>
#include <new>
#include <vector>

namespace metalnn::cpu {

template <class T, std::size_t Align = 64>
struct AlignedAllocator {
  using value_type = T;
  template <class U>
  struct rebind {
    using other = AlignedAllocator<U, Align>;
  };
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U, Align>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(Align))); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t(Align)); }
  template <class U>
  bool operator==(const AlignedAllocator<U, Align>&) const { return true; }
  template <class U>
  bool operator!=(const AlignedAllocator<U, Align>&) const { return false; }
};

// Floats whose first element starts a cache line.
using AlignedFloats = std::vector<float, AlignedAllocator<float>>;

}  // namespace metalnn::cpu
