// A loaded model: the imported graph, its optimised form and the device executables. Inputs are
// validated here, so no device ever sees a tensor of the wrong dtype or shape.
#pragma once
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/constant_pool.h"
#include "core/executable.h"
#include "core/graph.h"
#include "engine/devices.h"
#include "engine/staged_executable.h"

namespace metalnn {

struct TensorInfo {
  std::string name;
  DType dtype = DType::Undefined;
  Shape shape;  // -1 marks a dimension the caller chooses per run (a symbolic ONNX dimension)
};

class Model {
 public:
  // Infers shapes with free input dimensions left free (core/symbolic_shapes.h), so the model is
  // checked as far as it can be without sizes. A model without free dimensions is optimised and
  // compiled here; otherwise each input-shape signature is compiled at its first run (or prepare()).
  // With `release_weights`, a static model on the cpu device keeps no copy of the weights its kernels
  // pack: saving it or compiling it again then needs the weights from their source (see weights_released).
  Model(Graph imported, CompileOptions options, bool release_weights = false);

  const std::vector<TensorInfo>& inputs() const { return inputs_; }
  // Output shapes as far as they are known without input sizes (-1 where they follow the inputs; an
  // empty shape when even the rank does).
  const std::vector<TensorInfo>& outputs() const { return outputs_; }
  const std::string& device() const { return options_.device; }
  const std::string& precision() const { return options_.precision; }
  // The arena of the static specialisation, or of the most recently used one (0 before any run).
  size_t arena_bytes() const;
  // The graph after the passes. With free input dimensions: the imported graph with its free
  // dimensions and symbolically inferred shapes (what a saved file must keep).
  const Graph& optimized_graph() const;
  bool has_free_dims() const { return free_dims_; }
  // The graph as loaded, after fold_weights: a copy shares its weights. Throws ModelError when the
  // weights were released.
  const Graph& imported_graph() const;
  // Whether the packed weights' originals were freed: the graphs then hold those constants' dtypes and
  // shapes without data, and the model cannot be saved or compiled again from itself.
  bool weights_released() const { return weights_released_; }
  // The optimised graph of the most recently used specialisation (a copy sharing the weights), or
  // optimized_graph() before any: what `Model.summary()` describes.
  Graph latest_graph() const;

  // Runs one inference; inputs in the order of inputs(). Thread-safe: calls on one Model are
  // serialised (each specialisation owns one activation arena). A new input-shape signature is
  // compiled once and kept in a bounded least-recently-used cache.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);
  // Throws ShapeError / DtypeError unless the input shapes (and dtypes, when given) fit inputs(); run
  // calls it, and a binding calls it before copying a non-contiguous array.
  void validate(const std::vector<Shape>& shapes, const std::vector<DType>* dtypes) const;
  void validate(const std::vector<Tensor>& inputs) const;
  // Compiles the specialisation for these input shapes (inputs() order, every dim concrete) now.
  void prepare(const std::vector<Shape>& shapes);

  // The most specialisations kept (at least 1); beyond it the least recently used is freed.
  void set_cache_capacity(size_t capacity);
  size_t cache_capacity() const;
  struct CachedSpecialization {
    std::vector<Shape> shapes;
    size_t arena_bytes = 0;
    uint64_t runs = 0;
  };
  // The cached specialisations, most recently used first.
  std::vector<CachedSpecialization> cached() const;

  static constexpr size_t kDefaultCacheCapacity = 16;

 private:
  struct Specialization {
    std::vector<Shape> shapes;
    Graph graph;  // the first stage's (the whole model's unless the plan splits)
    std::unique_ptr<StagedExecutable> executable;
    uint64_t runs = 0;
  };
  // Finds or compiles the specialisation and marks it most recently used; caller holds mutex_.
  Specialization& specialization_for(const std::vector<Shape>& shapes, bool release = false);

  Graph imported_;
  Graph symbolic_;  // imported_ with symbolic shapes, sorted
  CompileOptions options_;
  bool free_dims_ = false;
  bool staged_ = false;  // static shapes, but the plan splits where a size is known only at run time
  bool weights_released_ = false;
  std::vector<TensorInfo> inputs_, outputs_;
  ConstantPool constants_;
  std::list<Specialization> lru_;  // most recently used first
  std::map<std::vector<Shape>, std::list<Specialization>::iterator> by_shape_;
  size_t capacity_ = kDefaultCacheCapacity;
  mutable std::mutex mutex_;
};

}  // namespace metalnn
