// Elementwise kernels. Unary: one pass over contiguous memory split across the pool (activations go
// through cpu::apply_activation). Binary: a StridedLoop over the output with broadcast strides for
// both inputs; each run picks a vector-vector, scalar-vector or vector-scalar inner loop. Min/Max with
// more inputs (and Sum/Mean, as Add) fold them into the output one at a time. Logical ops run on bool.
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

#include "cpu/activation.h"
#include "cpu/cpu_features.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"
#include "cpu/simd_avx2.h"
#include "cpu/strided_loop.h"
#include "cpu/vector_math.h"

namespace metalnn::cpu {

namespace {

constexpr int64_t kElementwiseGrain = 1 << 14;

// Which input dtypes an op accepts; the schema enforces the same sets.
enum class Accepts { Float, Numeric, NumericMixed, NumericOrBool, Bool };

// Calls f(TypeTag<T>{}) for the input dtype `t` among those `A` admits.
template <Accepts A, class F>
void visit_accepted(DType t, F&& f) {
  if constexpr (A == Accepts::Float) visit_dtype<DType::Float32>(t, f);
  else if constexpr (A == Accepts::Bool) visit_dtype<DType::Bool>(t, f);
  else if constexpr (A == Accepts::NumericOrBool) visit_dtype<DType::Float32, DType::Int64, DType::Int32, DType::Bool>(t, f);
  else visit_numeric_dtype(t, f);
}

// ---- unary ----

struct Neg {
  static constexpr Accepts kAccepts = Accepts::Numeric;
  template <class T> T operator()(T x) const {
    if constexpr (std::is_integral_v<T>) return static_cast<T>(0 - static_cast<std::make_unsigned_t<T>>(x));
    else return -x;
  }
};
struct Abs {
  static constexpr Accepts kAccepts = Accepts::Numeric;
  template <class T> T operator()(T x) const { return x < 0 ? Neg{}(x) : x; }
};
#define METALNN_FLOAT_UNARY(Name, expr)                 \
  struct Name {                                         \
    static constexpr Accepts kAccepts = Accepts::Float; \
    float operator()(float x) const { return (expr); } \
  };
METALNN_FLOAT_UNARY(Sqrt, std::sqrt(x))
METALNN_FLOAT_UNARY(Exp, std::exp(x))
METALNN_FLOAT_UNARY(Log, std::log(x))
METALNN_FLOAT_UNARY(Reciprocal, 1.f / x)
METALNN_FLOAT_UNARY(Floor, std::floor(x))
METALNN_FLOAT_UNARY(Ceil, std::ceil(x))
METALNN_FLOAT_UNARY(Sin, std::sin(x))
METALNN_FLOAT_UNARY(Cos, std::cos(x))
// log(1 + e^x) without overflow for large x.
METALNN_FLOAT_UNARY(Softplus, x > 0.f ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)))
METALNN_FLOAT_UNARY(Mish, x * std::tanh(x > 0.f ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x))))
#undef METALNN_FLOAT_UNARY
struct Not {
  static constexpr Accepts kAccepts = Accepts::Bool;
  bool operator()(bool x) const { return !x; }
};

// The attributes of the unary ops that have some, read once from the node.
struct UnaryArgs {
  float alpha = 0.f, gamma = 0.f;
  bool negative = true, positive = true, tanh = false;
  explicit UnaryArgs(const Node& n)
      : alpha(n.attrs.get_float("alpha", n.op_type == "Selu" ? 1.67326319217681884765625f : 1.f)),
        gamma(n.attrs.get_float("gamma", 1.05070102214813232421875f)),
        negative(n.attrs.get_int("detect_negative", 1) != 0),
        positive(n.attrs.get_int("detect_positive", 1) != 0),
        tanh(n.attrs.get_string("approximate", "none") == "tanh") {}
};
struct IsNaN {
  static constexpr Accepts kAccepts = Accepts::Float;
  bool operator()(float x) const { return std::isnan(x); }
};
struct IsInf {
  static constexpr Accepts kAccepts = Accepts::Float;
  bool negative, positive;
  explicit IsInf(const UnaryArgs& a) : negative(a.negative), positive(a.positive) {}
  bool operator()(float x) const { return std::isinf(x) && (x < 0.f ? negative : positive); }
};
struct Elu {
  static constexpr Accepts kAccepts = Accepts::Float;
  float alpha;
  explicit Elu(const UnaryArgs& a) : alpha(a.alpha) {}
  float operator()(float x) const { return x < 0.f ? alpha * std::expm1(x) : x; }
};
struct Selu {
  static constexpr Accepts kAccepts = Accepts::Float;
  float alpha, gamma;
  explicit Selu(const UnaryArgs& a) : alpha(a.alpha), gamma(a.gamma) {}
  float operator()(float x) const { return gamma * (x > 0.f ? x : alpha * std::expm1(x)); }
};

using UnaryFn = void (*)(const Tensor& in, Tensor& out, ThreadPool& pool, const UnaryArgs& args);

// Gelu runs a chunk at a time through the vectorised loop.
void run_gelu(const Tensor& in, Tensor& out, ThreadPool& pool, const UnaryArgs& args) {
  const float* x = in.data<float>();
  float* y = out.data<float>();
  pool.parallel_for(in.numel(), kElementwiseGrain, [&](int64_t b, int64_t e) { gelu(x + b, y + b, e - b, args.tanh); });
}

template <class Op>
Op make_unary_op(const UnaryArgs& args) {
  if constexpr (std::is_constructible_v<Op, const UnaryArgs&>) return Op(args);
  else return Op{};
}

template <class Op>
void run_unary(const Tensor& in, Tensor& out, ThreadPool& pool, const UnaryArgs& args) {
  auto body = [&](auto tag) {
    using T = typename decltype(tag)::type;
    using R = decltype(std::declval<Op>()(T{}));
    const T* x = in.data<T>();
    R* y = out.data<R>();
    pool.parallel_for(in.numel(), kElementwiseGrain, [&](int64_t b, int64_t e) {
      const Op op = make_unary_op<Op>(args);
      for (int64_t i = b; i < e; ++i) y[i] = op(x[i]);
    });
  };
  visit_accepted<Op::kAccepts>(in.dtype(), body);
}

#if defined(METALNN_HAS_AVX2_KERNELS)
// erf on 8 lanes: |x| in 8 intervals of width 1/2 up to 4 (erf(4) rounds to 1 in float32), a degree-7
// polynomial per interval in |x| - centre (the first centred on 0 with no constant term, so small x
// keep their relative accuracy), its coefficients picked per lane with vpermps. Least-squares fits to
// erf; within 2 ulp of the correctly rounded value.
constexpr float kErfCentres[8] = {0.f, 0.75f, 1.25f, 1.75f, 2.25f, 2.75f, 3.25f, 3.75f};
constexpr float kErfCoefficients[8][8] = {  // [power][interval]
    {0.000000000e+00f, 7.111556334e-01f, 9.229001289e-01f, 9.866716711e-01f, 9.985372833e-01f, 9.998993781e-01f, 9.999956972e-01f, 9.999998863e-01f},
    {1.128379175e+00f, 6.429310713e-01f, 2.365211220e-01f, 5.277499545e-02f, 7.142319215e-03f, 5.862772866e-04f, 2.918901172e-05f, 8.814288507e-07f},
    {-1.526091775e-06f, -4.821981600e-01f, -2.956517445e-01f, -9.235620183e-02f, -1.607015690e-02f, -1.612267421e-03f, -9.486933320e-05f, -3.306070938e-06f},
    {-3.760786268e-01f, 2.678835053e-02f, 1.675358903e-01f, 9.015738693e-02f, 2.172451249e-02f, 2.760380299e-03f, 1.958126298e-04f, 7.970327847e-06f},
    {-5.544511362e-04f, 1.506756288e-01f, -6.132034983e-03f, -4.810552455e-02f, -1.908825631e-02f, -3.257710446e-03f, -2.861694289e-04f, -1.378540918e-05f},
    {1.158386227e-01f, -5.321708910e-02f, -4.718655397e-02f, 6.618473111e-03f, 1.066005949e-02f, 2.756290991e-03f, 3.136288504e-04f, 1.833005791e-05f},
    {-7.936138895e-03f, -2.658282998e-02f, 2.059773655e-02f, 9.049494661e-03f, -2.779565169e-03f, -1.667850586e-03f, -2.737584430e-04f, -2.069242062e-05f},
    {-1.802313296e-02f, 1.788549520e-02f, 3.745110578e-03f, -5.933099329e-03f, -7.215269949e-04f, 6.358154110e-04f, 1.735965149e-04f, 1.714473662e-05f},
};

// y[i] = erf(x[i]) for the first multiple of 8 of n; returns the count done. NaN stays NaN (vminps
// returns its second operand when either is NaN).
METALNN_AVX2 int64_t erf_avx2(const float* x, float* y, int64_t n) {
  __m256 c[8];
  for (int k = 0; k < 8; ++k) c[k] = _mm256_loadu_ps(kErfCoefficients[k]);
  const __m256 centres = _mm256_loadu_ps(kErfCentres), sign = _mm256_set1_ps(-0.f);
  const __m256 four = _mm256_set1_ps(4.f), two = _mm256_set1_ps(2.f), one = _mm256_set1_ps(1.f);
  const __m256i last = _mm256_set1_epi32(7);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 a = _mm256_min_ps(four, _mm256_andnot_ps(sign, v));
    const __m256i idx = _mm256_min_epi32(_mm256_cvttps_epi32(_mm256_mul_ps(a, two)), last);
    const __m256 t = _mm256_sub_ps(a, _mm256_permutevar8x32_ps(centres, idx));
    __m256 r = _mm256_permutevar8x32_ps(c[7], idx);
    for (int k = 6; k >= 0; --k) r = _mm256_fmadd_ps(r, t, _mm256_permutevar8x32_ps(c[k], idx));
    r = _mm256_min_ps(one, r);
    _mm256_storeu_ps(y + i, _mm256_or_ps(r, _mm256_and_ps(sign, v)));
  }
  return i;
}
#endif

void run_erf(const Tensor& in, Tensor& out, ThreadPool& pool, const UnaryArgs&) {
  const float* x = in.data<float>();
  float* y = out.data<float>();
  pool.parallel_for(in.numel(), kElementwiseGrain, [&](int64_t b, int64_t e) {
    int64_t i = b;
#if defined(METALNN_HAS_AVX2_KERNELS)
    if (has_avx2_fma()) i += erf_avx2(x + b, y + b, e - b);
#endif
    for (; i < e; ++i) y[i] = std::erf(x[i]);
  });
}

struct UnaryEntry {
  const char* op_type;
  UnaryFn fn;
};
constexpr UnaryEntry kUnaryOps[] = {
    {"Neg", run_unary<Neg>},   {"Abs", run_unary<Abs>},     {"Erf", run_erf},
    {"Sqrt", run_unary<Sqrt>}, {"Exp", run_unary<Exp>},     {"Log", run_unary<Log>},
    {"Reciprocal", run_unary<Reciprocal>}, {"Floor", run_unary<Floor>}, {"Ceil", run_unary<Ceil>},
    {"Not", run_unary<Not>},   {"Sin", run_unary<Sin>},     {"Cos", run_unary<Cos>},
    {"Softplus", run_unary<Softplus>}, {"Mish", run_unary<Mish>}, {"IsNaN", run_unary<IsNaN>},
    {"IsInf", run_unary<IsInf>}, {"Elu", run_unary<Elu>}, {"Selu", run_unary<Selu>}, {"Gelu", run_gelu},
};

class UnaryKernel : public Kernel {
 public:
  UnaryKernel(const Graph& g, const Node& n)
      : activation_(Activation::from_activation_node(g, n)), clip_(n.op_type == "Clip"), args_(n) {
    for (const UnaryEntry& e : kUnaryOps)
      if (n.op_type == e.op_type) math_ = e.fn;
    if (!math_ && !clip_ && activation_.none())
      throw UnsupportedOpError(n.label() + ": no cpu unary kernel for " + n.op_type);
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    if (math_) return math_(*in[0], *out[0], pool, args_);
    Activation act = activation_;
    if (clip_) {
      // Bounds may be run-time inputs; absent ones are unbounded.
      act.kind = Activation::Kind::Clip;
      act.alpha = in.size() > 1 && in[1] ? static_cast<float>(in[1]->float_at(0)) : -std::numeric_limits<float>::infinity();
      act.beta = in.size() > 2 && in[2] ? static_cast<float>(in[2]->float_at(0)) : std::numeric_limits<float>::infinity();
    }
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    pool.parallel_for(in[0]->numel(), kElementwiseGrain,
                      [&](int64_t b, int64_t e) { apply_activation(x + b, y + b, e - b, act); });
  }

 private:
  Activation activation_;
  bool clip_;
  UnaryArgs args_;
  UnaryFn math_ = nullptr;
};

// ---- binary ----

template <class T>
T divide(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    // -1 negates without the INT_MIN / -1 trap; the kernel rejects zero divisors before the loop.
    if (b == -1) return Neg{}(a);
  }
  return a / b;
}

struct Add { static constexpr Accepts kAccepts = Accepts::Numeric; template <class T> T operator()(T a, T b) const { return a + b; } };
struct Sub { static constexpr Accepts kAccepts = Accepts::Numeric; template <class T> T operator()(T a, T b) const { return a - b; } };
struct Mul { static constexpr Accepts kAccepts = Accepts::Numeric; template <class T> T operator()(T a, T b) const { return a * b; } };
struct Div { static constexpr Accepts kAccepts = Accepts::Numeric; template <class T> T operator()(T a, T b) const { return divide(a, b); } };
struct Min { static constexpr Accepts kAccepts = Accepts::Numeric; template <class T> T operator()(T a, T b) const { return b < a ? b : a; } };
struct Max { static constexpr Accepts kAccepts = Accepts::Numeric; template <class T> T operator()(T a, T b) const { return a < b ? b : a; } };
struct PRelu { static constexpr Accepts kAccepts = Accepts::Float; float operator()(float x, float slope) const { return x < 0.f ? x * slope : x; } };
struct Pow {
  static constexpr Accepts kAccepts = Accepts::NumericMixed;
  template <class A, class B> A operator()(A a, B b) const {
    if constexpr (std::is_floating_point_v<A>) {
      if constexpr (std::is_floating_point_v<B>) return b == 2.f ? a * a : std::pow(a, b);
      else return std::pow(a, static_cast<A>(b));
    } else {
      return static_cast<A>(std::pow(static_cast<double>(a), static_cast<double>(b)));
    }
  }
};
struct Equal { static constexpr Accepts kAccepts = Accepts::NumericOrBool; template <class T> bool operator()(T a, T b) const { return a == b; } };
struct Less { static constexpr Accepts kAccepts = Accepts::Numeric; template <class T> bool operator()(T a, T b) const { return a < b; } };
struct Greater { static constexpr Accepts kAccepts = Accepts::Numeric; template <class T> bool operator()(T a, T b) const { return a > b; } };
struct LessOrEqual { static constexpr Accepts kAccepts = Accepts::Numeric; template <class T> bool operator()(T a, T b) const { return a <= b; } };
struct GreaterOrEqual { static constexpr Accepts kAccepts = Accepts::Numeric; template <class T> bool operator()(T a, T b) const { return a >= b; } };
struct And { static constexpr Accepts kAccepts = Accepts::Bool; bool operator()(bool a, bool b) const { return a && b; } };
struct Or { static constexpr Accepts kAccepts = Accepts::Bool; bool operator()(bool a, bool b) const { return a || b; } };
struct Xor { static constexpr Accepts kAccepts = Accepts::Bool; bool operator()(bool a, bool b) const { return a != b; } };
// A lone Sum/Mean input meets itself in the one step: keep it as it is.
struct First { static constexpr Accepts kAccepts = Accepts::Numeric; template <class T> T operator()(T a, T) const { return a; } };
// Mod with fmod=0: the result takes the divisor's sign (Python's %, a - floor(a / b) * b).
struct Mod {
  static constexpr Accepts kAccepts = Accepts::Numeric;
  template <class T> T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      if (b == -1) return 0;  // avoids the INT_MIN % -1 trap
      const T r = a % b;
      return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
    } else {
      const T r = std::fmod(a, b);
      if (r == 0) return std::copysign(T(0), b);
      return (r < 0) != (b < 0) ? r + b : r;
    }
  }
};
// Mod with fmod=1: the result takes the dividend's sign (C's fmod).
struct FMod {
  static constexpr Accepts kAccepts = Accepts::Numeric;
  template <class T> T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) return b == -1 ? 0 : a % b;
    else return std::fmod(a, b);
  }
};

// out[i] = op(a[i], b[i]) over the loop's runs; operands are (out, a, b).
template <class Op, class A, class B, class O>
void binary_loop(const StridedLoop& loop, const A* a, const B* b, O* out, ThreadPool& pool) {
  const int64_t sa = loop.inner_stride(1), sb = loop.inner_stride(2);
  loop.parallel_runs(pool, kElementwiseGrain, [&](const StridedLoop::Offsets& off, int64_t n) {
    const Op op;
    O* o = out + off[0];
    const A* pa = a + off[1];
    const B* pb = b + off[2];
    if (sa == 1 && sb == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = op(pa[i], pb[i]);
    } else if (sa == 0 && sb == 1) {
      const A x = *pa;
      for (int64_t i = 0; i < n; ++i) o[i] = op(x, pb[i]);
    } else if (sa == 1 && sb == 0) {
      const B y = *pb;
      for (int64_t i = 0; i < n; ++i) o[i] = op(pa[i], y);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i] = op(pa[i * sa], pb[i * sb]);
    }
  });
}

using BinaryFn = void (*)(const StridedLoop&, const Tensor& a, const Tensor& b, Tensor& out, ThreadPool&);

template <class Op>
void run_binary(const StridedLoop& loop, const Tensor& a, const Tensor& b, Tensor& out, ThreadPool& pool) {
  auto with_a = [&](auto ta) {
    using A = typename decltype(ta)::type;
    auto with_b = [&](auto tb) {
      using B = typename decltype(tb)::type;
      using O = decltype(Op{}(A{}, B{}));
      binary_loop<Op>(loop, a.data<A>(), b.data<B>(), out.data<O>(), pool);
    };
    if constexpr (Op::kAccepts == Accepts::NumericMixed) visit_numeric_dtype(b.dtype(), with_b);
    else with_b(TypeTag<A>{});
  };
  visit_accepted<Op::kAccepts>(a.dtype(), with_a);
}

struct BinaryEntry {
  const char* op_type;
  BinaryFn fn;
};
constexpr BinaryEntry kBinaryOps[] = {
    {"Add", run_binary<Add>},     {"Sub", run_binary<Sub>},     {"Mul", run_binary<Mul>},
    {"Div", run_binary<Div>},     {"Pow", run_binary<Pow>},     {"PRelu", run_binary<PRelu>},
    {"Min", run_binary<Min>},     {"Max", run_binary<Max>},     {"Equal", run_binary<Equal>},
    {"Less", run_binary<Less>},   {"Greater", run_binary<Greater>},
    {"LessOrEqual", run_binary<LessOrEqual>}, {"GreaterOrEqual", run_binary<GreaterOrEqual>},
    {"Mod", run_binary<Mod>},     {"And", run_binary<And>},     {"Or", run_binary<Or>},
    {"Xor", run_binary<Xor>},     {"Sum", run_binary<Add>},     {"Mean", run_binary<Add>},
};

class BinaryKernel : public Kernel {
 public:
  BinaryKernel(const Graph& g, const Node& n) : label_(n.label()) {
    for (const BinaryEntry& e : kBinaryOps)
      if (n.op_type == e.op_type) fn_ = e.fn;
    if (n.op_type == "Mod" && n.attrs.get_int("fmod", 0) != 0) fn_ = run_binary<FMod>;
    if ((n.op_type == "Sum" || n.op_type == "Mean") && n.inputs.size() == 1) fn_ = run_binary<First>;
    if (!fn_) throw UnsupportedOpError(label_ + ": no cpu binary kernel for " + n.op_type);
    const Shape& out = output_value(g, n, 0).shape;
    const std::vector<int64_t> out_strides = shape_strides(out);
    // Step k combines input 0 (then the running result) with input k + 1; a lone input meets itself.
    const int count = static_cast<int>(n.inputs.size());
    for (int k = 0; k == 0 || k + 1 < count; ++k) {
      const Shape& a = k == 0 ? input_value(g, n, 0).shape : out;
      const Shape& b = input_value(g, n, std::min(k + 1, count - 1)).shape;
      steps_.emplace_back(out, std::vector<std::vector<int64_t>>{out_strides, broadcast_strides(a, out),
                                                                 broadcast_strides(b, out)});
    }
    if (n.op_type == "Mean") mean_scale_ = 1.f / static_cast<float>(count);
    integer_div_ = (n.op_type == "Div" || n.op_type == "Mod") && input_value(g, n, 0).dtype != DType::Float32;
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const int count = static_cast<int>(in.size());
    if (integer_div_) {
      for (int64_t i = 0; i < in[1]->numel(); ++i)
        if (in[1]->int_at(i) == 0) throw ModelError(label_ + ": integer division by zero");
    }
    for (size_t k = 0; k < steps_.size(); ++k)
      fn_(steps_[k], k == 0 ? *in[0] : *out[0], *in[std::min<int>(k + 1, count - 1)], *out[0], pool);
    if (mean_scale_ != 1.f) {
      float* y = out[0]->data<float>();
      pool.parallel_for(out[0]->numel(), kElementwiseGrain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) y[i] *= mean_scale_;
      });
    }
  }

 private:
  std::string label_;
  BinaryFn fn_ = nullptr;
  std::vector<StridedLoop> steps_;
  float mean_scale_ = 1.f;  // Mean: the sum divided by the input count
  bool integer_div_ = false;
};

}  // namespace

std::unique_ptr<Kernel> make_unary_kernel(const Graph& g, const Node& n) { return std::make_unique<UnaryKernel>(g, n); }
std::unique_ptr<Kernel> make_binary_kernel(const Graph& g, const Node& n) { return std::make_unique<BinaryKernel>(g, n); }

}  // namespace metalnn::cpu
