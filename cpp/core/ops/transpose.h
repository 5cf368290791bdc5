// Transpose's permutation, shared by the schema and the kernels.
#pragma once
#include <vector>

#include "core/attributes.h"

namespace metalnn {

// The `perm` attribute, or the reversed axes when it is absent (ONNX default). Not validated.
std::vector<int64_t> transpose_perm(const Attributes& attrs, int rank);

}  // namespace metalnn
