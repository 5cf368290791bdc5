// Geometry of MatMulNBits (com.microsoft), shared by the schema and the devices: Y = A B^T (+ bias)
// with B [N, K] stored as 4-bit codes in blocks of `block_size` along K, code k of a block in byte
// k / 2 (low nibble first), weight = (code - zero_point) * scale.
#pragma once
#include <cstdint>

#include "core/graph.h"

namespace metalnn {

enum class NBitsZeroPoints { kDefault, kPacked, kFloat };  // absent (8), 4-bit packed uint8, float

struct NBitsGeometry {
  int64_t k = 0, n = 0;
  int64_t block_size = 0;
  int64_t k_blocks = 0;      // ceil(K / block_size)
  int64_t blob_bytes = 0;    // block_size / 2
  int64_t zp_row_bytes = 0;  // packed zero points per row of B: ceil(k_blocks / 2)
  NBitsZeroPoints zero_points = NBitsZeroPoints::kDefault;
  bool has_bias = false;
};

// Reads the node's attributes and optional inputs; the schema (infer_matmul_nbits) has checked them.
NBitsGeometry nbits_geometry(const Graph& g, const Node& n);

}  // namespace metalnn
