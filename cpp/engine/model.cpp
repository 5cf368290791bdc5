#include "engine/model.h"

#include "core/error.h"
#include "core/passes/passes.h"
#include "cpu/evaluator.h"

namespace metalnn {

Model::Model(Graph imported, CompileOptions options) : imported_(std::move(imported)), options_(std::move(options)) {
  options_.device = resolve_device(options_.device);
  for (int v : imported_.inputs()) {
    const Value& val = imported_.value(v);
    if (!val.has_shape) throw ModelError("input '" + val.name + "' has no shape");
    inputs_.push_back({val.name, val.dtype, val.shape});
    Shape concrete = val.shape;
    for (int64_t& d : concrete)
      if (d < 0) d = 1;
    default_shapes_.push_back(concrete);
  }
  const Specialization& spec = specialization_for(default_shapes_);
  for (int v : spec.graph.outputs()) {
    const Value& val = spec.graph.value(v);
    outputs_.push_back({val.name, val.dtype, val.shape});
  }
}

Model::Specialization& Model::specialization_for(const std::vector<Shape>& shapes) {
  auto it = specializations_.find(shapes);
  if (it != specializations_.end()) return it->second;
  Specialization spec{imported_, nullptr};
  for (size_t i = 0; i < shapes.size(); ++i) {
    Value& in = spec.graph.value(spec.graph.inputs()[i]);
    in.shape = shapes[i];
  }
  optimize(spec.graph, cpu::node_evaluator());
  spec.executable = compile(spec.graph, options_);
  return specializations_.emplace(shapes, std::move(spec)).first->second;
}

void Model::validate(const std::vector<Tensor>& inputs) const {
  if (inputs.size() != inputs_.size())
    throw ShapeError("model takes " + std::to_string(inputs_.size()) + " inputs, got " + std::to_string(inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorInfo& info = inputs_[i];
    const Tensor& t = inputs[i];
    if (t.dtype() != info.dtype)
      throw DtypeError("input '" + info.name + "' has dtype " + dtype_name(t.dtype()) + ", expected " +
                       dtype_name(info.dtype));
    bool ok = t.rank() == static_cast<int>(info.shape.size());
    for (int d = 0; ok && d < t.rank(); ++d) ok = info.shape[d] < 0 ? t.dim(d) > 0 : t.dim(d) == info.shape[d];
    if (!ok)
      throw ShapeError("input '" + info.name + "' has shape " + shape_str(t.shape()) + ", expected " +
                       shape_str(info.shape) + " (-1: any size)");
  }
}

std::vector<Tensor> Model::run(const std::vector<Tensor>& inputs) {
  validate(inputs);
  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(t.shape());
  std::lock_guard<std::mutex> lock(mutex_);
  return specialization_for(shapes).executable->run(inputs);
}

size_t Model::arena_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return specializations_.at(default_shapes_).executable->arena_bytes();
}

const Graph& Model::optimized_graph() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return specializations_.at(default_shapes_).graph;
}

}  // namespace metalnn
