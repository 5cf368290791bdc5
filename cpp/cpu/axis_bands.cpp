#include "cpu/axis_bands.h"

namespace metalnn::cpu {

std::vector<AxisBand> axis_bands(size_t elem_size, const Shape& whole, const std::vector<Shape>& parts, int axis,
                                 BandCopy direction) {
  const std::vector<int64_t> whole_strides = shape_strides(whole);
  std::vector<AxisBand> bands;
  int64_t start = 0;
  for (const Shape& part : parts) {
    const std::vector<int64_t> part_strides = shape_strides(part);
    const bool into_whole = direction == BandCopy::PartToWhole;
    bands.push_back({start * whole_strides[axis],
                     StridedCopy(elem_size, part, into_whole ? whole_strides : part_strides,
                                 into_whole ? part_strides : whole_strides)});
    start += part[axis];
  }
  return bands;
}

}  // namespace metalnn::cpu
