#include "core/dtype.h"

#include "core/error.h"

namespace metalnn {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Int32: return 4;
    case DType::Int64: return 8;
    case DType::Float16: return 2;
    case DType::UInt8:
    case DType::Int8:
    case DType::Bool: return 1;
    case DType::Undefined: break;
  }
  return 0;
}

std::string dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::UInt8: return "uint8";
    case DType::Int8: return "int8";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
    case DType::Float16: return "float16";
    case DType::Undefined: break;
  }
  return "undefined";
}

DType dtype_from_onnx(int onnx_type) {
  switch (onnx_type) {
    case 1: return DType::Float32;
    case 2: return DType::UInt8;
    case 3: return DType::Int8;
    case 6: return DType::Int32;
    case 7: return DType::Int64;
    case 9: return DType::Bool;
    case 10: return DType::Float16;
    default: break;
  }
  throw DtypeError("ONNX element type " + std::to_string(onnx_type) + " is not supported");
}

}  // namespace metalnn
