// Test helper for op schemas and CPU kernels: builds a graph of one node, infers its shapes and runs
// its CPU kernel on outputs pre-filled with NaN (kernels must not assume zeroed outputs).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/activation.h"
#include "core/graph.h"
#include "cpu/kernel.h"

namespace metalnn::test {

// One node input: a run-time value (graph input) or a constant; an undefined tensor marks an omitted optional.
struct Arg {
  Tensor value;
  bool constant = false;
};
inline Arg input(Tensor t) { return {std::move(t), false}; }
inline Arg constant(Tensor t) { return {std::move(t), true}; }
inline Arg omitted() { return {}; }

// Uniform over [lo, hi] from 24 random bits. Not std::uniform_real_distribution: libstdc++ computes it in
// long double, a software 128-bit type on aarch64 Linux, which makes large test inputs take seconds.
inline float uniform_float(std::mt19937& rng, float lo, float hi) {
  return lo + (hi - lo) * (static_cast<float>(rng() >> 8) * 0x1p-24f);
}

inline Tensor random_tensor(const Shape& shape, unsigned seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  Tensor t = Tensor::empty(DType::Float32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = uniform_float(rng, lo, hi);
  return t;
}

inline Tensor float_tensor(const Shape& shape, std::vector<float> values) {
  Tensor t = Tensor::empty(DType::Float32, shape);
  for (size_t i = 0; i < values.size(); ++i) t.data<float>()[i] = values[i];
  return t;
}

class OneNode {
 public:
  OneNode(const std::string& op, std::vector<Arg> args, Attributes attrs = {}, int num_outputs = 1)
      : args_(std::move(args)) {
    Node n;
    n.op_type = op;
    n.name = "n0";
    n.attrs = std::move(attrs);
    for (size_t i = 0; i < args_.size(); ++i) {
      const Arg& a = args_[i];
      if (!a.value.defined()) {
        n.inputs.push_back(-1);
        continue;
      }
      const std::string name = "in" + std::to_string(i);
      int v;
      if (a.constant) {
        v = g_.add_constant(name, a.value);
      } else {
        v = g_.add_value(name, a.value.dtype());
        g_.value(v).shape = a.value.shape();
        g_.value(v).has_shape = true;
        g_.inputs().push_back(v);
      }
      n.inputs.push_back(v);
    }
    for (int i = 0; i < num_outputs; ++i) {
      n.outputs.push_back(g_.add_value("out" + std::to_string(i)));
      g_.outputs().push_back(n.outputs.back());
    }
    g_.add_node(std::move(n));
  }

  Graph& graph() { return g_; }
  Node& node() { return g_.nodes()[0]; }
  void infer() { g_.infer_shapes(); }
  Shape output_shape(int i = 0) {
    infer();
    return g_.value(node().outputs[i]).shape;
  }

  // Infers shapes, builds the CPU kernel and runs it once; returns output 0.
  Tensor run(cpu::ThreadPool& pool = cpu::ThreadPool::global()) {
    infer();
    cpu::KernelFactory make = cpu::find_kernel(node().op_type);
    EXPECT_NE(make, nullptr);
    std::unique_ptr<cpu::Kernel> kernel = make(g_, node());
    std::vector<const Tensor*> ins;
    for (const Arg& a : args_) ins.push_back(a.value.defined() ? &a.value : nullptr);
    const Value& out = g_.value(node().outputs[0]);
    Tensor y = Tensor::empty(out.dtype, out.shape);
    std::fill(y.data<float>(), y.data<float>() + y.numel(), std::numeric_limits<float>::quiet_NaN());
    std::vector<Tensor*> outs = {&y};
    kernel->run(ins, outs, pool);
    return y;
  }

 private:
  std::vector<Arg> args_;
  Graph g_;
};

// Element-wise |a - b| <= tol * (1 + |b|), shapes equal.
inline void expect_near(const Tensor& a, const Tensor& b, float tol = 1e-4f) {
  ASSERT_EQ(shape_str(a.shape()), shape_str(b.shape()));
  for (int64_t i = 0; i < a.numel(); ++i) {
    const float x = a.data<float>()[i], r = b.data<float>()[i];
    ASSERT_TRUE(std::fabs(x - r) <= tol * (1.f + std::fabs(r))) << "at " << i << ": " << x << " vs " << r;
  }
}

// Runs `fn` expecting exception type E whose message contains `message` (equals it when `exact`).
template <typename E, typename Fn>
void expect_error(Fn fn, const std::string& message, bool exact = false) {
  try {
    fn();
    ADD_FAILURE() << "no exception; expected: " << message;
  } catch (const E& e) {
    if (exact) {
      EXPECT_EQ(std::string(e.what()), message);
    } else {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

inline Attributes attrs(std::initializer_list<std::pair<const char*, Attribute>> list) {
  Attributes a;
  for (const auto& [k, v] : list) a.set(k, v);
  return a;
}
inline Attribute ints_attr(std::vector<int64_t> v) { return Attribute::make_ints(std::move(v)); }
inline Attribute int_attr(int64_t v) { return Attribute::make_int(v); }
inline Attribute float_attr(float v) { return Attribute::make_float(v); }
inline Attribute string_attr(std::string v) { return Attribute::make_string(std::move(v)); }

// The fused activations, one element at a time, written from the ONNX definitions.
inline float reference_activation(float x, const Activation& a) {
  switch (a.kind) {
    case Activation::Kind::None: return x;
    case Activation::Kind::Relu: return x > 0.f ? x : 0.f;
    case Activation::Kind::LeakyRelu: return x >= 0.f ? x : a.alpha * x;
    case Activation::Kind::Clip: return std::min(std::max(x, a.alpha), a.beta);
    case Activation::Kind::Sigmoid: return 1.f / (1.f + std::exp(-x));
    case Activation::Kind::HardSigmoid: return std::max(0.f, std::min(1.f, a.alpha * x + a.beta));
    case Activation::Kind::HardSwish: return x * std::max(0.f, std::min(1.f, x / 6.f + 0.5f));
    case Activation::Kind::Tanh: return std::tanh(x);
  }
  return x;
}

}  // namespace metalnn::test
