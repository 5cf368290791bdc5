// Element types the engine stores. Values match ONNX TensorProto.DataType so the importer passes them through.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace metalnn {

enum class DType : int32_t {
  Undefined = 0,
  Float32 = 1,
  UInt8 = 2,
  Int8 = 3,
  Int32 = 6,
  Int64 = 7,
  Bool = 9,
  Float16 = 10,
};

size_t dtype_size(DType t);
std::string dtype_name(DType t);
// Accepts the ONNX element-type number; throws DtypeError for types the engine does not store.
DType dtype_from_onnx(int onnx_type);

}  // namespace metalnn
