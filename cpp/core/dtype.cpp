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
  // The ONNX names of the element types the engine does not store (TensorProto.DataType).
  static const char* const kOnnxNames[] = {"undefined", "float32", "uint8", "int8", "uint16", "int16", "int32",
                                           "int64", "string", "bool", "float16", "float64", "uint32", "uint64",
                                           "complex64", "complex128", "bfloat16", "float8e4m3fn", "float8e4m3fnuz",
                                           "float8e5m2", "float8e5m2fnuz", "uint4", "int4", "float4e2m1",
                                           "float8e8m0", "uint2", "int2"};
  const bool known = onnx_type >= 0 && onnx_type < int(sizeof(kOnnxNames) / sizeof(kOnnxNames[0]));
  throw DtypeError(std::string(known ? kOnnxNames[onnx_type] : "an unknown type") + " (ONNX element type " +
                   std::to_string(onnx_type) +
                   ") is not a dtype the engine stores; expected float32, float16, int64, int32, int8, uint8 or bool");
}

}  // namespace metalnn
