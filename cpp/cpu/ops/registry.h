// The CPU kernel table's contents, for the check against core/ops/op_list.h.
#pragma once
#include <string>
#include <vector>

namespace metalnn::cpu {

// Every op type with a CPU kernel.
std::vector<std::string> kernel_op_types();

}  // namespace metalnn::cpu
