#include "core/sizes.h"

#include "core/error.h"

namespace metalnn {

int64_t checked_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0 || d > kMaxElements) return -1;
    if (!checked_mul(n, d, &n)) return -1;
  }
  // Checked after the loop: a zero dim makes the count 0 however large the other dims (each bounded).
  return n > kMaxElements ? -1 : n;
}

uint64_t checked_nbytes(DType dtype, const Shape& s, const std::string& what) {
  const int64_t n = checked_numel(s);
  if (n < 0)
    throw ShapeError(what + ": shape " + shape_str(s) + " has a negative dim or more than 2^40 elements");
  return static_cast<uint64_t>(n) * dtype_size(dtype);
}

}  // namespace metalnn
