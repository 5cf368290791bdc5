// One exception hierarchy for the whole engine; the bindings map each type to a Python exception.
#pragma once
#include <stdexcept>
#include <string>

namespace metalnn {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Malformed, truncated or inconsistent model (file or graph).
class ModelError : public Error {
 public:
  using Error::Error;
};

// An op type, attribute value or dtype combination the engine does not implement.
class UnsupportedOpError : public Error {
 public:
  using Error::Error;
};

// A tensor whose shape is not what a node or the model expects.
class ShapeError : public Error {
 public:
  using Error::Error;
};

// A tensor whose dtype is not what a node or the model expects.
class DtypeError : public Error {
 public:
  using Error::Error;
};

// A device that is missing, unavailable on this machine or failed.
class DeviceError : public Error {
 public:
  using Error::Error;
};

// Memory for a tensor or a kernel's table that could not be allocated; names what and how many bytes.
class AllocationError : public Error {
  public:
  using Error::Error;
};

// User kernel source (metalnn.metal_kernel) that does not compile or breaks an MSL rule.
class KernelSourceError : public Error {
 public:
  using Error::Error;
};

}  // namespace metalnn
