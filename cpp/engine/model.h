// A loaded model: the imported graph, its optimised form and the device executable. Inputs are
// validated here, so no device ever sees a tensor of the wrong dtype or shape.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/executable.h"
#include "core/graph.h"
#include "engine/devices.h"

namespace metalnn {

struct TensorInfo {
  std::string name;
  DType dtype = DType::Undefined;
  Shape shape;  // -1 marks a dimension the caller chooses per run (a symbolic ONNX dimension)
};

class Model {
 public:
  // Optimises `imported` and compiles it; free input dimensions are compiled as 1 up front so that
  // errors in the model surface at load time.
  Model(Graph imported, CompileOptions options);

  const std::vector<TensorInfo>& inputs() const { return inputs_; }
  const std::vector<TensorInfo>& outputs() const { return outputs_; }
  const std::string& device() const { return options_.device; }
  const std::string& precision() const { return options_.precision; }
  size_t arena_bytes() const;
  // The graph after the passes, for the default input shapes.
  const Graph& optimized_graph() const;

  // Runs one inference; inputs in the order of inputs(). Thread-safe: calls on one Model are
  // serialised (each Model owns one activation arena). New shapes for free dimensions compile once.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);
  // Throws ShapeError / DtypeError unless `inputs` (their data may be null) fit inputs(); run calls
  // it, and a binding calls it before copying a non-contiguous array.
  void validate(const std::vector<Tensor>& inputs) const;

 private:
  struct Specialization {
    Graph graph;
    std::unique_ptr<Executable> executable;
  };
  Specialization& specialization_for(const std::vector<Shape>& shapes);

  Graph imported_;
  CompileOptions options_;
  std::vector<TensorInfo> inputs_, outputs_;
  std::vector<Shape> default_shapes_;
  std::map<std::vector<Shape>, Specialization> specializations_;
  mutable std::mutex mutex_;
};

}  // namespace metalnn
