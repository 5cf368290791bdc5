// Shared by the quantized-op lowerings (quantize.cpp, matmul_integer.cpp).
#pragma once
#include <string>

#include "core/graph.h"

namespace metalnn::gpu {

// Kernel-name suffix of an int8, uint8 or int32 value; UnsupportedOpError naming `n` otherwise.
std::string quantized_suffix(const Node& n, DType t);

}  // namespace metalnn::gpu
