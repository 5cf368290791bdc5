#include "cpu/strided_loop.h"

#include "core/error.h"

namespace metalnn::cpu {

StridedLoop::StridedLoop(const Shape& shape, const std::vector<std::vector<int64_t>>& strides)
    : operands_(static_cast<int>(strides.size())), size_(shape_numel(shape)) {
  if (operands_ > kMaxOperands) throw Error("StridedLoop: too many operands");
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;  // contributes nothing to any offset
    Offsets s{};
    for (int k = 0; k < operands_; ++k) s[k] = strides[k][d];
    // Merge into the previous (outer) dim when every operand steps over it exactly one inner row.
    bool mergeable = !dims_.empty();
    for (int k = 0; mergeable && k < operands_; ++k) mergeable = strides_.back()[k] == s[k] * shape[d];
    if (mergeable) {
      dims_.back() *= shape[d];
      strides_.back() = s;
    } else {
      dims_.push_back(shape[d]);
      strides_.push_back(s);
    }
  }
  if (dims_.empty()) {
    dims_.push_back(1);
    strides_.push_back(Offsets{});
  }
}

}  // namespace metalnn::cpu
