#include "engine/model.h"

#include "core/error.h"
#include "core/passes/passes.h"
#include "core/symbolic_shapes.h"
#include "cpu/evaluator.h"

namespace metalnn {

Model::Model(Graph imported, CompileOptions options, bool release_weights)
    : imported_(std::move(imported)), options_(std::move(options)) {
  options_.device = resolve_device(options_.device);
  for (int v : imported_.inputs()) {
    const Value& val = imported_.value(v);
    if (!val.has_shape) throw ModelError("input '" + val.name + "' has no shape");
    inputs_.push_back({val.name, val.dtype, val.shape});
  }
  imported_.sort_topologically();
  fold_weights(imported_, cpu::node_evaluator());
  free_dims_ = metalnn::has_free_dims(imported_);
  if (!free_dims_) {
    std::vector<Shape> shapes;
    for (const TensorInfo& in : inputs_) shapes.push_back(in.shape);
    const bool release = release_weights && options_.device == "cpu";
    const Specialization& spec = specialization_for(shapes, release);
    staged_ = !spec.executable->single_stage();
    if (release) {
      imported_ = spec.executable->source();
      weights_released_ = !staged_;
    }
    if (!staged_) {
      for (int v : spec.graph.outputs()) {
        const Value& val = spec.graph.value(v);
        outputs_.push_back({val.name, val.dtype, val.shape});
      }
      return;
    }
  }
  symbolic_ = imported_;
  infer_symbolic_shapes(symbolic_);
  for (int v : symbolic_.outputs()) {
    const Value& val = symbolic_.value(v);
    // A deferred output keeps the dtype the model declares for it (every ONNX output declares one).
    const Value& declared = imported_.value(v);
    outputs_.push_back({val.name, val.has_shape ? val.dtype : declared.dtype, val.has_shape ? val.shape : Shape{}});
  }
}

Model::Specialization& Model::specialization_for(const std::vector<Shape>& shapes, bool release) {
  auto found = by_shape_.find(shapes);
  if (found != by_shape_.end()) {
    lru_.splice(lru_.begin(), lru_, found->second);
    return lru_.front();
  }
  if (weights_released_)  // unreachable: a static model has one signature, never evicted
    throw ModelError("the model's weights were released after packing; it cannot be compiled again");
  Graph g;
  if (release) {
    g = std::move(imported_);  // the executable holds the weights alone, so it can free them
    imported_ = Graph();
  } else {
    g = imported_;
  }
  for (size_t i = 0; i < shapes.size(); ++i) g.value(g.inputs()[i]).shape = shapes[i];
  auto executable = release ? std::make_unique<StagedExecutable>(std::move(g), options_, constants_)
                            : std::make_unique<StagedExecutable>(std::move(g), options_, constants_, imported_);
  Specialization spec{shapes, executable->graph(), std::move(executable)};
  // Evict before inserting, so the old executables' memory is released before the cache grows.
  while (lru_.size() >= capacity_) {
    by_shape_.erase(lru_.back().shapes);
    lru_.pop_back();
  }
  lru_.push_front(std::move(spec));
  by_shape_[shapes] = lru_.begin();
  return lru_.front();
}

void Model::validate(const std::vector<Shape>& shapes, const std::vector<DType>* dtypes) const {
  if (shapes.size() != inputs_.size())
    throw ShapeError("model takes " + std::to_string(inputs_.size()) + " inputs, got " + std::to_string(shapes.size()));
  for (size_t i = 0; i < shapes.size(); ++i) {
    const TensorInfo& info = inputs_[i];
    if (dtypes && (*dtypes)[i] != info.dtype)
      throw DtypeError("input '" + info.name + "' has dtype " + dtype_name((*dtypes)[i]) + ", expected " +
                       dtype_name(info.dtype));
    const Shape& s = shapes[i];
    bool ok = s.size() == info.shape.size();
    for (size_t d = 0; ok && d < s.size(); ++d) ok = info.shape[d] < 0 ? s[d] >= 0 : s[d] == info.shape[d];
    if (!ok)
      throw ShapeError("input '" + info.name + "' has shape " + shape_str(s) + ", expected " + shape_str(info.shape) +
                       " (-1: any size)");
  }
}

void Model::validate(const std::vector<Tensor>& inputs) const {
  std::vector<Shape> shapes;
  std::vector<DType> dtypes;
  for (const Tensor& t : inputs) {
    shapes.push_back(t.shape());
    dtypes.push_back(t.dtype());
  }
  validate(shapes, &dtypes);
}

std::vector<Tensor> Model::run(const std::vector<Tensor>& inputs) {
  validate(inputs);
  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(t.shape());
  std::lock_guard<std::mutex> lock(mutex_);
  Specialization& spec = specialization_for(shapes);
  ++spec.runs;
  return spec.executable->run(inputs);
}

void Model::prepare(const std::vector<Shape>& shapes) {
  validate(shapes, nullptr);
  std::lock_guard<std::mutex> lock(mutex_);
  specialization_for(shapes);
}

void Model::set_cache_capacity(size_t capacity) {
  if (capacity < 1) throw ModelError("the specialisation cache holds at least 1 entry, got " + std::to_string(capacity));
  std::lock_guard<std::mutex> lock(mutex_);
  capacity_ = capacity;
  while (lru_.size() > capacity_) {
    by_shape_.erase(lru_.back().shapes);
    lru_.pop_back();
  }
}

size_t Model::cache_capacity() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return capacity_;
}

std::vector<Model::CachedSpecialization> Model::cached() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<CachedSpecialization> out;
  for (const Specialization& s : lru_) out.push_back({s.shapes, s.executable->arena_bytes(), s.runs});
  return out;
}

size_t Model::arena_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lru_.empty() ? 0 : lru_.front().executable->arena_bytes();
}

const Graph& Model::imported_graph() const {
  if (weights_released_)
    throw ModelError("the model's weights were released once packed (it was loaded from a file); load it again");
  return imported_;
}

Graph Model::latest_graph() const {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!lru_.empty()) return lru_.front().graph;
  }
  return optimized_graph();
}

const Graph& Model::optimized_graph() const {
  std::lock_guard<std::mutex> lock(mutex_);
  // Without free dims the single specialisation is never evicted (capacity >= 1, one signature). A
  // split plan's first stage is not the whole model: the imported graph stands for it.
  return free_dims_ || staged_ ? symbolic_ : lru_.back().graph;
}

}  // namespace metalnn
