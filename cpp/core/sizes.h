// Overflow-checked element and byte counts. Every size a model can ask for (a stored shape, a shape
// inference result, a buffer) goes through these, so a hostile shape fails cleanly instead of wrapping.
#pragma once
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>

#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor.h"

namespace metalnn {

// No tensor holds more elements; far above any real model, and small enough that the byte count of
// any dtype fits comfortably in 64 bits.
inline constexpr int64_t kMaxElements = int64_t{1} << 40;

// a * b and a + b, or false when the result does not fit in int64.
inline bool checked_mul(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }
inline bool checked_add(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }

// The element count of `s`, or -1 when a dim is negative or above kMaxElements, or the count is.
int64_t checked_numel(const Shape& s);
// The byte count of a `dtype` tensor of shape `s`; throws ShapeError starting with `what` when the
// shape breaks the limits of checked_numel.
uint64_t checked_nbytes(DType dtype, const Shape& s, const std::string& what);

// Reserves room for `count` entries of a kernel's table up front (not one growth step at a time), so a
// hostile length fails at once as an AllocationError starting with `what`.
template <class Vector>
void reserve_table(Vector& v, int64_t count, const std::string& what) {
  try {
    v.reserve(static_cast<size_t>(count));
  } catch (const std::bad_alloc&) {
    throw AllocationError(what + ": cannot allocate " + std::to_string(static_cast<uint64_t>(count) * sizeof(v[0])) +
                          " bytes for a table of " + std::to_string(count) + " entries");
  } catch (const std::length_error&) {
    throw AllocationError(what + ": a table of " + std::to_string(count) + " entries is too long");
  }
}

}  // namespace metalnn
