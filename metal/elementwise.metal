// Unary math and activations, broadcasting binary ops, comparisons and Where.
// One thread per output element (1-D grid); broadcasting through per-input strides; no threadgroup memory.
#include "common.h"

// Unary ops compute in float whatever the storage type.
struct OpRelu { static float apply(float x, constant UnaryParams& p) { return relu_keep_nan(x); } };
struct OpLeakyRelu { static float apply(float x, constant UnaryParams& p) { return x >= 0.0f ? x : x * p.alpha; } };
struct OpClip { static float apply(float x, constant UnaryParams& p) { return clamp_keep_nan(x, p.alpha, p.beta); } };
struct OpSigmoid { static float apply(float x, constant UnaryParams& p) { return 1.0f / (1.0f + exp(-x)); } };
struct OpHardSigmoid {
  static float apply(float x, constant UnaryParams& p) { return clamp_keep_nan(p.alpha * x + p.beta, 0.0f, 1.0f); }
};
struct OpHardSwish {
  static float apply(float x, constant UnaryParams& p) { return x * clamp_keep_nan(x / 6.0f + 0.5f, 0.0f, 1.0f); }
};
// x * sigmoid(alpha * x); SiLU when alpha is 1.
struct OpSwish { static float apply(float x, constant UnaryParams& p) { return x / (1.0f + exp(-p.alpha * x)); } };
struct OpTanh { static float apply(float x, constant UnaryParams& p) { return tanh(x); } };
struct OpErf { static float apply(float x, constant UnaryParams& p) { return erf_approx(x); } };
struct OpSqrt { static float apply(float x, constant UnaryParams& p) { return sqrt(x); } };
struct OpExp { static float apply(float x, constant UnaryParams& p) { return exp(x); } };
struct OpLog { static float apply(float x, constant UnaryParams& p) { return log(x); } };
struct OpNeg { static float apply(float x, constant UnaryParams& p) { return -x; } };
struct OpAbs { static float apply(float x, constant UnaryParams& p) { return abs(x); } };
struct OpReciprocal { static float apply(float x, constant UnaryParams& p) { return 1.0f / x; } };
struct OpFloor { static float apply(float x, constant UnaryParams& p) { return floor(x); } };
struct OpCeil { static float apply(float x, constant UnaryParams& p) { return ceil(x); } };
struct OpNot { static float apply(float x, constant UnaryParams& p) { return x == 0.0f ? 1.0f : 0.0f; } };
struct OpSin { static float apply(float x, constant UnaryParams& p) { return sin(x); } };
struct OpCos { static float apply(float x, constant UnaryParams& p) { return cos(x); } };
// MSL has no log1p: log(1 + e^-|x|) stays accurate enough where it matters (x near 0), no overflow.
inline float softplus(float x) { return max(x, 0.0f) + log(1.0f + exp(-abs(x))); }
struct OpSoftplus { static float apply(float x, constant UnaryParams& p) { return softplus(x); } };
struct OpMish { static float apply(float x, constant UnaryParams& p) { return x * tanh(softplus(x)); } };
// alpha: Elu/Selu alpha; beta: Selu gamma. Mean's final division is a Scale by alpha.
struct OpElu { static float apply(float x, constant UnaryParams& p) { return x < 0.0f ? p.alpha * (exp(x) - 1.0f) : x; } };
struct OpSelu {
  static float apply(float x, constant UnaryParams& p) { return p.beta * (x > 0.0f ? x : p.alpha * (exp(x) - 1.0f)); }
};
struct OpGelu { static float apply(float x, constant UnaryParams& p) { return gelu_erf(x); } };
struct OpGeluTanh { static float apply(float x, constant UnaryParams& p) { return gelu_tanh(x); } };
struct OpScale { static float apply(float x, constant UnaryParams& p) { return x * p.alpha; } };
// Bit tests, so fast-math cannot fold them away; alpha/beta != 0 select negative/positive infinities.
struct OpIsNaN {
  static bool apply(float x, constant UnaryParams& p) { return (as_type<uint>(x) & 0x7fffffffu) > 0x7f800000u; }
};
struct OpIsInf {
  static bool apply(float x, constant UnaryParams& p) {
    const uint bits = as_type<uint>(x);
    if ((bits & 0x7fffffffu) != 0x7f800000u) return false;
    return (bits >> 31) != 0u ? p.alpha != 0.0f : p.beta != 0.0f;
  }
};

template <typename Op, typename T>
kernel void unary(device const T* x [[buffer(0)]],
                  device T* y [[buffer(1)]],
                  constant UnaryParams& p [[buffer(2)]],
                  uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  y[gid] = T(Op::apply(float(x[gid]), p));
}

// Clip with bounds fed at run time (an absent bound comes as an infinity).
template <typename T>
kernel void clip_fed(device const T* x [[buffer(0)]],
                     device const T* lo [[buffer(1)]],
                     device const T* hi [[buffer(2)]],
                     device T* y [[buffer(3)]],
                     constant UnaryParams& p [[buffer(4)]],
                     uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  y[gid] = T(clamp_keep_nan(float(x[gid]), float(lo[0]), float(hi[0])));
}

template <typename Op, typename T>
kernel void predicate(device const T* x [[buffer(0)]],
                      device uchar* y [[buffer(1)]],
                      constant UnaryParams& p [[buffer(2)]],
                      uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  y[gid] = Op::apply(float(x[gid]), p) ? 1 : 0;
}

// Binary ops: float types compute in float, integer types in their own type.
struct OpAdd { template <typename C> static C apply(C a, C b) { return a + b; } };
struct OpSub { template <typename C> static C apply(C a, C b) { return a - b; } };
struct OpMul { template <typename C> static C apply(C a, C b) { return a * b; } };
struct OpDiv { template <typename C> static C apply(C a, C b) { return a / b; } };
struct OpPow { template <typename C> static C apply(C a, C b) { return pow(a, b); } };
struct OpPRelu { template <typename C> static C apply(C a, C b) { return a >= C(0) ? a : a * b; } };
struct OpMin { template <typename C> static C apply(C a, C b) { return min(a, b); } };
struct OpMax { template <typename C> static C apply(C a, C b) { return max(a, b); } };
// Mod takes the divisor's sign (integers only), FMod the dividend's; b == -1 avoids INT_MIN % -1.
struct OpMod {
  static float apply(float a, float b) {
    const float r = fmod(a, b);
    if (r == 0.0f) return copysign(0.0f, b);
    return (r < 0.0f) != (b < 0.0f) ? r + b : r;
  }
  template <typename C> static C apply(C a, C b) {
    if (b == C(-1)) return C(0);
    const C r = a % b;
    return r != C(0) && ((r < C(0)) != (b < C(0))) ? r + b : r;
  }
};
struct OpFMod {
  static float apply(float a, float b) { return fmod(a, b); }
  template <typename C> static C apply(C a, C b) { return b == C(-1) ? C(0) : a % b; }
};
struct OpAnd { template <typename C> static C apply(C a, C b) { return C(a != C(0) && b != C(0)); } };
struct OpOr { template <typename C> static C apply(C a, C b) { return C(a != C(0) || b != C(0)); } };
struct OpXor { template <typename C> static C apply(C a, C b) { return C((a != C(0)) != (b != C(0))); } };
struct OpEqual { template <typename C> static bool apply(C a, C b) { return a == b; } };
struct OpLess { template <typename C> static bool apply(C a, C b) { return a < b; } };
struct OpGreater { template <typename C> static bool apply(C a, C b) { return a > b; } };
struct OpLessOrEqual { template <typename C> static bool apply(C a, C b) { return a <= b; } };
struct OpGreaterOrEqual { template <typename C> static bool apply(C a, C b) { return a >= b; } };

template <typename T> struct compute_type { typedef T type; };
template <> struct compute_type<half> { typedef float type; };

// b has its own type U (Pow's integer exponent); both compute in a's compute type.
template <typename Op, typename T, typename U>
kernel void binary(device const T* a [[buffer(0)]],
                   device const U* b [[buffer(1)]],
                   device T* y [[buffer(2)]],
                   constant BroadcastParams& p [[buffer(3)]],
                   uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  typedef typename compute_type<T>::type C;
  const C va = C(a[strided_offset(gid, p.rank, p.shape, p.strides[0])]);
  const C vb = C(b[strided_offset(gid, p.rank, p.shape, p.strides[1])]);
  y[gid] = T(Op::apply(va, vb));
}

// Integer base (int32/int64): integral exponents multiply exactly by repeated squaring, wrapping like
// the cpu device's cast of a double pow; a fractional exponent goes through float pow. A negative
// integral exponent leaves 1 / a^e, which truncates to 0 unless |a| is 1.
template <typename T>
T integer_pow(T a, long e) {
  if (e < 0) return a == T(1) ? T(1) : a == T(-1) ? ((e & 1) != 0 ? T(-1) : T(1)) : T(0);
  T r = T(1);
  for (; e != 0; e >>= 1) {
    if ((e & 1) != 0) r *= a;
    a *= a;
  }
  return r;
}
template <typename T, typename U>
kernel void pow_integer(device const T* a [[buffer(0)]],
                        device const U* b [[buffer(1)]],
                        device T* y [[buffer(2)]],
                        constant BroadcastParams& p [[buffer(3)]],
                        uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  const T va = a[strided_offset(gid, p.rank, p.shape, p.strides[0])];
  const U vb = b[strided_offset(gid, p.rank, p.shape, p.strides[1])];
  const float e = float(vb);
  y[gid] = e == floor(e) && abs(e) < 9.0e18f ? integer_pow(va, long(vb)) : T(pow(float(va), e));
}

// Integer Neg and Abs in their own type (the float path would round large values).
struct IntNeg { template <typename T> static T apply(T x) { return -x; } };
struct IntAbs { template <typename T> static T apply(T x) { return x < T(0) ? -x : x; } };
template <typename Op, typename T>
kernel void unary_integer(device const T* x [[buffer(0)]],
                          device T* y [[buffer(1)]],
                          constant UnaryParams& p [[buffer(2)]],
                          uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  y[gid] = Op::apply(x[gid]);
}

template <typename Op, typename T>
kernel void compare(device const T* a [[buffer(0)]],
                    device const T* b [[buffer(1)]],
                    device uchar* y [[buffer(2)]],
                    constant BroadcastParams& p [[buffer(3)]],
                    uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  const T va = a[strided_offset(gid, p.rank, p.shape, p.strides[0])];
  const T vb = b[strided_offset(gid, p.rank, p.shape, p.strides[1])];
  y[gid] = Op::apply(va, vb) ? 1 : 0;
}

template <typename T>
kernel void where(device const uchar* condition [[buffer(0)]],
                  device const T* x [[buffer(1)]],
                  device const T* y [[buffer(2)]],
                  device T* out [[buffer(3)]],
                  constant BroadcastParams& p [[buffer(4)]],
                  uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  const bool c = condition[strided_offset(gid, p.rank, p.shape, p.strides[0])] != 0;
  out[gid] = c ? x[strided_offset(gid, p.rank, p.shape, p.strides[1])]
               : y[strided_offset(gid, p.rank, p.shape, p.strides[2])];
}

#define instantiate_unary(dtype, T, name) instantiate_kernel(unary, name, dtype, unary<Op##name, T>)
#define instantiate_unary_all(dtype, T, _)                                                      \
  instantiate_unary(dtype, T, Relu) instantiate_unary(dtype, T, LeakyRelu)                      \
  instantiate_unary(dtype, T, Clip) instantiate_unary(dtype, T, Sigmoid)                        \
  instantiate_unary(dtype, T, HardSigmoid) instantiate_unary(dtype, T, HardSwish)               \
  instantiate_unary(dtype, T, Swish)                                                            \
  instantiate_unary(dtype, T, Tanh) instantiate_unary(dtype, T, Erf)                            \
  instantiate_unary(dtype, T, Sqrt) instantiate_unary(dtype, T, Exp)                            \
  instantiate_unary(dtype, T, Log) instantiate_unary(dtype, T, Neg)                             \
  instantiate_unary(dtype, T, Abs) instantiate_unary(dtype, T, Reciprocal)                      \
  instantiate_unary(dtype, T, Floor) instantiate_unary(dtype, T, Ceil)                          \
  instantiate_unary(dtype, T, Sin) instantiate_unary(dtype, T, Cos)                             \
  instantiate_unary(dtype, T, Softplus) instantiate_unary(dtype, T, Mish)                       \
  instantiate_unary(dtype, T, Elu) instantiate_unary(dtype, T, Selu)                            \
  instantiate_unary(dtype, T, Gelu) instantiate_unary(dtype, T, GeluTanh)                       \
  instantiate_unary(dtype, T, Scale)                                                            \
  instantiate_kernel(clip, fed, dtype, clip_fed<T>)                                             \
  instantiate_kernel(predicate, IsNaN, dtype, predicate<OpIsNaN, T>)                            \
  instantiate_kernel(predicate, IsInf, dtype, predicate<OpIsInf, T>)
MNN_FLOAT_TYPES(instantiate_unary_all, )
instantiate_unary(b8, uchar, Not)

#define instantiate_binary(dtype, T, name) instantiate_kernel(binary, name, dtype, binary<Op##name, T, T>)
#define instantiate_arithmetic(dtype, T, _)                                                     \
  instantiate_binary(dtype, T, Add) instantiate_binary(dtype, T, Sub)                           \
  instantiate_binary(dtype, T, Mul) instantiate_binary(dtype, T, Div)
#define instantiate_float_binary(dtype, T, _)                                                   \
  instantiate_binary(dtype, T, Pow) instantiate_binary(dtype, T, PRelu)                         \
  instantiate_binary(dtype, T, Min) instantiate_binary(dtype, T, Max)                           \
  instantiate_kernel(where, select, dtype, where<T>)
MNN_FLOAT_TYPES(instantiate_arithmetic, )
MNN_FLOAT_TYPES(instantiate_float_binary, )
// Pow's exponent in any other stored numeric type: binary_Pow_<base>_<exponent>.
#define instantiate_pow_exponent(dtype, T, exponent, U) \
  instantiate_kernel(binary, Pow, dtype##_##exponent, binary<OpPow, T, U>)
#define instantiate_pow_mixed(dtype, T, _)                                                      \
  instantiate_pow_exponent(dtype, T, i64, long) instantiate_pow_exponent(dtype, T, i32, int)
MNN_FLOAT_TYPES(instantiate_pow_mixed, )
instantiate_arithmetic(i64, long, )
instantiate_arithmetic(i32, int, )
// Integer Pow: binary_Pow_<base> for a same-typed exponent, binary_Pow_<base>_<exponent> otherwise.
#define instantiate_pow_integer(dtype, T, _)                                                    \
  instantiate_kernel(binary, Pow, dtype, pow_integer<T, T>)                                     \
  instantiate_kernel(binary, Pow, dtype##_f32, pow_integer<T, float>)                           \
  instantiate_kernel(binary, Pow, dtype##_f16, pow_integer<T, half>)
instantiate_pow_integer(i64, long, )
instantiate_pow_integer(i32, int, )
instantiate_kernel(binary, Pow, i64_i32, pow_integer<long, int>)
instantiate_kernel(binary, Pow, i32_i64, pow_integer<int, long>)
#define instantiate_unary_integer(dtype, T, _)                                                  \
  instantiate_kernel(unary, Neg, dtype, unary_integer<IntNeg, T>)                               \
  instantiate_kernel(unary, Abs, dtype, unary_integer<IntAbs, T>)
instantiate_unary_integer(i64, long, )
instantiate_unary_integer(i32, int, )
#define instantiate_integer_min_max(dtype, T, _)                                                \
  instantiate_binary(dtype, T, Min) instantiate_binary(dtype, T, Max) instantiate_kernel(where, select, dtype, where<T>)
instantiate_integer_min_max(i64, long, )
instantiate_integer_min_max(i32, int, )
instantiate_kernel(where, select, b8, where<uchar>)
instantiate_kernel(where, select, u8, where<uchar>)
instantiate_kernel(where, select, i8, where<char>)
#define instantiate_integer_mod(dtype, T, _) instantiate_binary(dtype, T, Mod) instantiate_binary(dtype, T, FMod)
instantiate_integer_mod(i64, long, )
instantiate_integer_mod(i32, int, )
#define instantiate_float_mod(dtype, T, _) instantiate_binary(dtype, T, FMod) instantiate_binary(dtype, T, Mod)
MNN_FLOAT_TYPES(instantiate_float_mod, )
instantiate_binary(b8, uchar, And)
instantiate_binary(b8, uchar, Or)
instantiate_binary(b8, uchar, Xor)

#define instantiate_compare(dtype, T, _)                                                        \
  instantiate_kernel(compare, Equal, dtype, compare<OpEqual, T>)                                \
  instantiate_kernel(compare, Less, dtype, compare<OpLess, T>)                                  \
  instantiate_kernel(compare, Greater, dtype, compare<OpGreater, T>)                            \
  instantiate_kernel(compare, LessOrEqual, dtype, compare<OpLessOrEqual, T>)                    \
  instantiate_kernel(compare, GreaterOrEqual, dtype, compare<OpGreaterOrEqual, T>)
MNN_FLOAT_TYPES(instantiate_compare, )
instantiate_compare(i64, long, )
instantiate_compare(i32, int, )
instantiate_kernel(compare, Equal, b8, compare<OpEqual, uchar>)
