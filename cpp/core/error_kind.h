// The kind of each engine error, the one place the public C++ API (NetworkError::Kind) and the
// Python bindings (metalnn.errors) map from.
#pragma once
#include "core/error.h"

namespace metalnn {

// In the order of the public NetworkError::Kind, which mirrors it.
enum class ErrorKind { Model, UnsupportedOp, Shape, Dtype, Device, Allocation, Other };

inline ErrorKind error_kind(const Error& e) {
  if (dynamic_cast<const ModelError*>(&e)) return ErrorKind::Model;
  if (dynamic_cast<const UnsupportedOpError*>(&e)) return ErrorKind::UnsupportedOp;
  if (dynamic_cast<const ShapeError*>(&e)) return ErrorKind::Shape;
  if (dynamic_cast<const DtypeError*>(&e)) return ErrorKind::Dtype;
  if (dynamic_cast<const DeviceError*>(&e)) return ErrorKind::Device;
  if (dynamic_cast<const AllocationError*>(&e)) return ErrorKind::Allocation;
  return ErrorKind::Other;
}

// The class name of each kind in python/metalnn/errors.py.
inline const char* error_class_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Model: return "ModelError";
    case ErrorKind::UnsupportedOp: return "UnsupportedOpError";
    case ErrorKind::Shape: return "ShapeError";
    case ErrorKind::Dtype: return "DtypeError";
    case ErrorKind::Device: return "DeviceError";
    case ErrorKind::Allocation: return "AllocationError";
    case ErrorKind::Other: break;
  }
  return "Error";
}

}  // namespace metalnn
