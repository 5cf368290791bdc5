// metalnn's public C++ API, for apps that link the library without Python: load a .metalnn model for a
// device, list its inputs and outputs, run it on caller-provided buffers. Nothing here depends on
// Metal, pybind11 or the engine's internal types.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace metalnn {

// Element types; the numbering matches ONNX TensorProto.DataType.
enum class ElementType : int32_t { Float32 = 1, UInt8 = 2, Int8 = 3, Int32 = 6, Int64 = 7, Bool = 9, Float16 = 10 };

// Bytes per element of `type`.
size_t element_size(ElementType type);

// A model input or output: buffers passed to run() hold byte_size() bytes, row-major.
struct TensorDesc {
  std::string name;
  ElementType type = ElementType::Float32;
  std::vector<int64_t> shape;

  // Product of the dimensions.
  int64_t element_count() const;
  // element_count() * element_size(type).
  size_t byte_size() const;
};

struct LoadOptions {
  std::string device = "auto";        // "auto" (best available), "cpu", "metal" or "metal-sim"
  std::string precision = "float32";  // "float16" is available on the GPU devices
  int threads = 0;                    // cpu: worker threads for this model; 0: METALNN_NUM_THREADS or all cores
};

// The one exception type the API throws; kind() separates a bad model file from bad input or an
// unavailable device (for example, to fall back to "cpu").
class NetworkError : public std::runtime_error {
 public:
  enum class Kind { Model, UnsupportedOp, Shape, Dtype, Device, Allocation, Other };
  NetworkError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const noexcept { return kind_; }

 private:
  Kind kind_;
};

// A model compiled for one device. Weights are memory-mapped from the file and used in place.
class Network {
 public:
  // Loads a .metalnn file; throws NetworkError (Kind::Model) for a missing, truncated or corrupt file.
  static Network load(const std::string& path, const LoadOptions& options = {});
  // Loads a .metalnn image from memory; the bytes are copied once, so `data` may be freed afterwards.
  static Network load(const void* data, size_t size, const LoadOptions& options = {});

  Network(Network&&) noexcept;
  Network& operator=(Network&&) noexcept;
  ~Network();

  const std::vector<TensorDesc>& inputs() const;
  const std::vector<TensorDesc>& outputs() const;
  // Index of the input or output named `name`, or -1.
  int input_index(const std::string& name) const;
  int output_index(const std::string& name) const;
  // The device the model runs on, with "auto" resolved.
  const std::string& device() const;

  // One inference. inputs[i] holds inputs()[i].byte_size() bytes, read in place; outputs[i] receives
  // outputs()[i].byte_size() bytes. Safe to call from several threads (calls are serialised).
  void run(const std::vector<const void*>& inputs, const std::vector<void*>& outputs);

 private:
  struct Impl;
  explicit Network(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace metalnn
