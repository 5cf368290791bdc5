// Per-op schema: attribute validation and output dtype/shape inference. One entry per op type, listed
// in cpp/core/ops/registry.cpp; each op family implements its entries in cpp/core/ops/<family>.cpp.
#pragma once
#include <string>
#include <vector>

#include "core/error.h"
#include "core/graph.h"

namespace metalnn {

class InferContext {
 public:
  InferContext(Graph& g, Node& n) : graph_(g), node_(n) {}

  Graph& graph() { return graph_; }
  const Node& node() const { return node_; }
  const Attributes& attrs() const { return node_.attrs; }
  int num_inputs() const { return static_cast<int>(node_.inputs.size()); }
  int num_outputs() const { return static_cast<int>(node_.outputs.size()); }
  bool has_input(int i) const { return i < num_inputs() && node_.inputs[i] >= 0; }
  bool has_output(int i) const { return i < num_outputs() && node_.outputs[i] >= 0; }

  // Input i; throws ModelError if it is absent.
  const Value& input(int i) const;
  const Shape& input_shape(int i) const { return input(i).shape; }
  DType input_dtype(int i) const { return input(i).dtype; }
  int input_rank(int i) const { return static_cast<int>(input(i).shape.size()); }
  // Constant data of input i, or nullptr when it is absent or only known at run time.
  const Tensor* constant_input(int i) const;
  // Constant data of input i; throws UnsupportedOpError when it is not a constant.
  const Tensor& require_constant(int i, const char* what) const;

  void set_output(int i, DType dtype, Shape shape);

  // Checks on the node, raising errors that start with the node's label.
  void check_inputs(int min, int max) const;
  void check_rank(int i, int rank, const char* what) const;
  void check_float(int i) const;
  [[noreturn]] void fail_shape(const std::string& msg) const;
  [[noreturn]] void fail_model(const std::string& msg) const;
  [[noreturn]] void fail_unsupported(const std::string& msg) const;
  [[noreturn]] void fail_dtype(const std::string& msg) const;

  // Normalises a possibly negative axis against `rank`; fails naming `what` when out of range.
  int normalize_axis(int64_t axis, int rank, const char* what = "axis") const;

 private:
  Graph& graph_;
  Node& node_;
};

using InferFn = void (*)(InferContext&);

struct OpSchema {
  const char* op_type;
  InferFn infer;
};

// nullptr when the op type is unknown.
const OpSchema* find_schema(const std::string& op_type);
std::vector<std::string> supported_op_types();

// For an op whose output size only its kernel knows (NonZero, NonMaxSuppression): the axis of output
// 0 that the schema infers at its upper bound and the kernel fills up to a run-time count, padding the
// rest with -1 (the engine trims it, see engine/staged_executable.h). -1 for every other op.
int data_dependent_axis(const std::string& op_type);

}  // namespace metalnn
