// Helpers for the elementwise and data-movement op tests, on top of one_node.h: typed tensors
// (int64, int32, bool) and running a node with any number of outputs of any dtype.
#pragma once
#include <cstring>

#include "one_node.h"

namespace metalnn::test {

template <class T>
Tensor typed_tensor(DType dtype, const Shape& shape, const std::vector<T>& v) {
  Tensor t = Tensor::empty(dtype, shape);
  EXPECT_EQ(static_cast<int64_t>(v.size()), t.numel()) << "test data does not fill " << shape_str(shape);
  if (!v.empty()) std::memcpy(t.raw(), v.data(), std::min(v.size() * sizeof(T), t.nbytes()));
  return t;
}
inline Tensor i64(const Shape& s, const std::vector<int64_t>& v) { return typed_tensor(DType::Int64, s, v); }
inline Tensor i32(const Shape& s, const std::vector<int32_t>& v) { return typed_tensor(DType::Int32, s, v); }
inline Tensor boolean(const Shape& s, const std::vector<uint8_t>& v) { return typed_tensor(DType::Bool, s, v); }
inline Tensor f32(const Shape& s, const std::vector<float>& v) { return typed_tensor(DType::Float32, s, v); }

template <class T>
std::vector<T> values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

// Three threads, so chunked work really runs concurrently (and unevenly) even on a 2-core machine.
inline cpu::ThreadPool& test_pool() {
  static cpu::ThreadPool pool(3);
  return pool;
}

// Builds the one-node graph, infers shapes, runs the CPU kernel on outputs poisoned with 0x5a bytes
// (kernels must write every element) and returns all outputs (undefined where omitted).
inline std::vector<Tensor> run_op(const std::string& op, const std::vector<Arg>& args, Attributes attrs = {},
                                  int num_outputs = 1) {
  OneNode n(op, args, std::move(attrs), num_outputs);
  n.infer();
  std::unique_ptr<cpu::Kernel> kernel = cpu::find_kernel(op)(n.graph(), n.node());
  std::vector<const Tensor*> in;
  for (const Arg& a : args) in.push_back(a.value.defined() ? &a.value : nullptr);
  std::vector<Tensor> results;
  for (int v : n.node().outputs) {
    const Value& val = n.graph().value(v);
    results.push_back(Tensor::empty(val.dtype, val.shape));
    std::memset(results.back().raw(), 0x5a, results.back().nbytes());
  }
  std::vector<Tensor*> out;
  for (Tensor& t : results) out.push_back(&t);
  kernel->run(in, out, test_pool());
  return results;
}
inline Tensor run1(const std::string& op, const std::vector<Arg>& args, Attributes a = {}) {
  return run_op(op, args, std::move(a))[0];
}
inline Shape infer_shape(const std::string& op, const std::vector<Arg>& args, Attributes a = {}, int num_outputs = 1,
                         int output = 0) {
  return OneNode(op, args, std::move(a), num_outputs).output_shape(output);
}
inline DType infer_dtype(const std::string& op, const std::vector<Arg>& args, Attributes a = {}) {
  OneNode n(op, args, std::move(a));
  n.infer();
  return n.graph().value(n.node().outputs[0]).dtype;
}

}  // namespace metalnn::test
