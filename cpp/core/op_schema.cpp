#include "core/op_schema.h"

#include "core/sizes.h"

namespace metalnn {

const Value& InferContext::input(int i) const {
  if (!has_input(i)) fail_model("input " + std::to_string(i) + " is required");
  return graph_.value(node_.inputs[i]);
}

const Tensor* InferContext::constant_input(int i) const {
  if (!has_input(i)) return nullptr;
  const Value& v = graph_.value(node_.inputs[i]);
  return v.is_constant() ? &v.constant : nullptr;
}

const Tensor& InferContext::require_constant(int i, const char* what) const {
  const Tensor* t = constant_input(i);
  if (!t && !has_input(i)) fail_unsupported(std::string(what) + " ('?') must be a constant");
  // Computed at run time: the engine plans this node once the value is known.
  if (!t)
    throw RuntimeValueNeeded(node_.label() + ": " + what + " ('" + input(i).name +
                                 "') must be a constant when the node is planned (it is computed at run time)",
                             input(i).name);
  return *t;
}

void InferContext::set_output(int i, DType dtype, Shape shape) {
  if (!has_output(i)) return;
  for (int64_t d : shape)
    if (d < 0) fail_shape("output " + std::to_string(i) + " would have negative dimension in " + shape_str(shape));
  Value& v = graph_.value(node_.outputs[i]);
  if (checked_numel(shape) < 0)
    fail_shape("output '" + v.name + "' would have shape " + shape_str(shape) + ", over the limit of 2^40 elements");
  v.dtype = dtype;
  v.shape = std::move(shape);
  v.has_shape = true;
}

void InferContext::check_inputs(int min, int max) const {
  int n = num_inputs();
  while (n > 0 && node_.inputs[n - 1] < 0) --n;
  if (n < min || n > max)
    fail_model("has " + std::to_string(n) + " inputs, expected " +
               (min == max ? std::to_string(min) : std::to_string(min) + " to " + std::to_string(max)));
  for (int i = 0; i < min; ++i)
    if (!has_input(i)) fail_model("input " + std::to_string(i) + " is required");
}

void InferContext::check_rank(int i, int rank, const char* what) const {
  if (input_rank(i) != rank)
    fail_shape(std::string(what) + " '" + input(i).name + "' has " + std::to_string(input_rank(i)) +
               " dims, expected " + std::to_string(rank));
}

void InferContext::check_float(int i) const {
  DType t = input_dtype(i);
  if (t != DType::Float32 && t != DType::Float16)
    fail_dtype("input '" + input(i).name + "' is " + dtype_name(t) + ", expected float32");
}

void InferContext::fail_shape(const std::string& msg) const { throw ShapeError(node_.label() + ": " + msg); }
void InferContext::fail_model(const std::string& msg) const { throw ModelError(node_.label() + ": " + msg); }
void InferContext::fail_unsupported(const std::string& msg) const {
  throw UnsupportedOpError(node_.label() + ": " + msg);
}
void InferContext::fail_dtype(const std::string& msg) const { throw DtypeError(node_.label() + ": " + msg); }

int InferContext::normalize_axis(int64_t axis, int rank, const char* what) const {
  if (axis < -rank || axis >= rank)
    fail_model(std::string(what) + " " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

}  // namespace metalnn
