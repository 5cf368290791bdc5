// QuantizeLinear / DequantizeLinear geometry shared by the devices: x viewed as [outer, axis_len,
// inner] and where each element finds its scale and zero point (per tensor, per axis, or per block).
#pragma once
#include <cstdint>

#include "core/graph.h"

namespace metalnn {

struct QuantLayout {
  int64_t outer = 1, axis_len = 1, inner = 1;
  int64_t block = 1;  // elements along the axis sharing one scale (1 unless blocked)
  // Element strides of the scale (and zero point) along outer, axis blocks and inner; 0 = shared.
  int64_t scale_outer = 0, scale_axis = 0, scale_inner = 0;

  int64_t scale_index(int64_t o, int64_t c, int64_t i) const {
    return o * scale_outer + (c / block) * scale_axis + i * scale_inner;
  }
};

// The layout of node `n` (already validated by its schema) for input shape `x` and scale shape `scale`.
QuantLayout quant_layout(const Node& n, const Shape& x, const Shape& scale);

}  // namespace metalnn
