// A tensor cut along one axis into consecutive bands, one StridedCopy per band: Concat copies parts
// into the whole, Split copies them out of it.
#pragma once
#include <vector>

#include "cpu/strided_copy.h"

namespace metalnn::cpu {

struct AxisBand {
  int64_t whole_offset;  // elements from the whole tensor's start to the band's first element
  StridedCopy copy;      // between the contiguous part and the band (direction chosen at construction)
};

enum class BandCopy { PartToWhole, WholeToPart };

std::vector<AxisBand> axis_bands(size_t elem_size, const Shape& whole, const std::vector<Shape>& parts, int axis,
                                 BandCopy direction);

}  // namespace metalnn::cpu
