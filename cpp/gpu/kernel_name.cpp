#include "gpu/kernel_name.h"

#include "core/error.h"

namespace metalnn::gpu {

std::string dtype_suffix(DType t) {
  switch (t) {
    case DType::Float32: return "f32";
    case DType::Float16: return "f16";
    case DType::Int64: return "i64";
    case DType::Int32: return "i32";
    case DType::UInt8: return "u8";
    case DType::Int8: return "i8";
    case DType::Bool: return "b8";
    default: throw UnsupportedOpError("the GPU devices have no kernels for dtype " + dtype_name(t));
  }
}

std::string width_suffix(DType t) {
  switch (dtype_size(t)) {
    case 1: return "u8";
    case 2: return "u16";
    case 4: return "u32";
    case 8: return "u64";
    default: throw UnsupportedOpError("the GPU devices cannot move elements of dtype " + dtype_name(t));
  }
}

std::string kernel_name(const std::string& op, const std::string& variant, const std::string& dtype) {
  return op + "_" + variant + "_" + dtype;
}

}  // namespace metalnn::gpu
