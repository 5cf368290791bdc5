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

// A node needs as a constant (a shape, a count) a value that is computed at run time. The engine
// catches it and splits the plan there (engine/staged_executable.h): the value is computed first and
// the rest specialised with it. Uncaught, it reads as an unsupported op.
class RuntimeValueNeeded : public UnsupportedOpError {
 public:
  RuntimeValueNeeded(const std::string& message, std::string value) : UnsupportedOpError(message), value_(std::move(value)) {}
  // The name of the graph value needed.
  const std::string& value() const { return value_; }

 private:
  std::string value_;
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
