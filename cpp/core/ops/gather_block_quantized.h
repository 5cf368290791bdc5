// Geometry of GatherBlockQuantized (com.microsoft), shared by the schema and the devices. The data is
// a stream of codes (4-bit, two a byte low nibble first, or 8-bit) over its logical shape in row-major
// order; output element (m, j, e) is code d = (m * axis_len + indices[j]) * gather_block + e,
// dequantised as (code - zero_point) * scale with the block of d along quantize_axis.
#pragma once
#include <cstdint>

#include "core/graph.h"

namespace metalnn {

struct BlockGatherGeometry {
  Shape data_shape;  // logical: the uint8 form's last dim times codes per byte
  int gather_axis = 0, quantize_axis = 0;
  int64_t bits = 4;
  bool is_signed = false;  // int4 codes (sign-extended)
  int64_t block_size = 0;
  int64_t outer = 0, axis_len = 0, gather_block = 0;          // data as [outer, axis_len, gather_block]
  int64_t quantize_len = 0, quantize_inner = 0, scale_outer_stride = 0;  // data as [.., quantize_len, quantize_inner]
  // Zero point of scale s: code (s % zp_row) of row s / zp_row, rows zp_row_bytes apart.
  bool has_zero_points = false;
  int64_t default_zero_point = 0;
  int64_t zp_row = 0, zp_row_bytes = 0;
  // Scale index of data code d.
  int64_t scale_index(int64_t d) const {
    const int64_t x = d / (quantize_len * quantize_inner), y = d % (quantize_len * quantize_inner) / quantize_inner;
    return x * scale_outer_stride + y / block_size * quantize_inner + d % quantize_inner;
  }
};

// Reads the node's attributes and input shapes; the schema (infer_gather_block_quantized) has checked them.
// The importer gives int4 / uint4 data as flat uint8 bytes with attributes `_codes` (1 uint4, 2 int4)
// and `_shape` (the logical shape); uint8 data keeps ONNX Runtime's form (codes packed along the last dim).
BlockGatherGeometry block_gather_geometry(const Graph& g, const Node& n);

}  // namespace metalnn
