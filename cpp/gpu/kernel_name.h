// Kernel host names, built in one place to match the instantiate_kernel macro of metal/common.h:
// <op>_<variant>_<dtype>.
#pragma once
#include <string>

#include "core/dtype.h"

namespace metalnn::gpu {

// f32, f16, i64, i32, u8, i8 or b8 (bool); throws UnsupportedOpError for other dtypes.
std::string dtype_suffix(DType t);
// u8, u16, u32 or u64: the element width, for kernels that only move bits.
std::string width_suffix(DType t);
std::string kernel_name(const std::string& op, const std::string& variant, const std::string& dtype);

}  // namespace metalnn::gpu
