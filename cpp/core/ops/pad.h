// Pad's amounts and mode, shared by the schema and the kernels.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace metalnn {

enum class PadMode { Constant, Reflect, Edge };

// Elements added before and after each input axis (negative values crop).
struct PadAmounts {
  std::vector<int64_t> before, after;
};

// Spreads ONNX's pads ([x1_begin, x2_begin, ..., x1_end, x2_end, ...] over `axes`, or over all axes
// when `axes` is empty; axes may be negative) onto every axis. Inputs must already be validated.
PadAmounts resolve_pads(int rank, const std::vector<int64_t>& pads, const std::vector<int64_t>& axes);

// false for modes the engine does not implement (wrap).
bool parse_pad_mode(const std::string& name, PadMode* mode);

}  // namespace metalnn
