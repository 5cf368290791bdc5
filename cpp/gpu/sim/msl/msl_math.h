// The metal:: math library (common, integer, relational, geometric functions) on scalars and vectors.
// half functions compute in float and round once; fast:: and precise:: name the same functions.
#pragma once
#include "msl_types.h"

namespace metal {

namespace detail {
template <class T>
struct identity { using type = T; };
template <class T>
using scalar_arg = typename identity<T>::type;  // not deduced: lets `max(v, 0.0f)` convert
}  // namespace detail

#define MSL_MAP_VEC1(name)                                 \
  template <class T, int N>                                \
  vec<T, N> name(const vec<T, N>& a) {                     \
    vec<T, N> r;                                           \
    for (int i = 0; i < N; ++i) r[i] = name(a[i]);         \
    return r;                                              \
  }                                                        \
  template <class V, class T, int S, int... I>             \
  V name(const detail::swizzle<V, T, S, I...>& a) { return name(V(a)); }
#define MSL_MAP_VEC2(name)                                      \
  template <class T, int N>                                     \
  vec<T, N> name(const vec<T, N>& a, const vec<T, N>& b) {      \
    vec<T, N> r;                                                \
    for (int i = 0; i < N; ++i) r[i] = name(a[i], b[i]);        \
    return r;                                                   \
  }                                                             \
  template <class T, int N>                                     \
  vec<T, N> name(const vec<T, N>& a, detail::scalar_arg<T> b) { \
    return name(a, vec<T, N>(b));                               \
  }                                                             \
  template <class V, class T, int S, int... I, class B>         \
  V name(const detail::swizzle<V, T, S, I...>& a, const B& b) { \
    return name(V(a), V(b));                                    \
  }                                                             \
  template <class V, class T, int S, int... I>                  \
  V name(const V& a, const detail::swizzle<V, T, S, I...>& b) { \
    return name(a, V(b));                                       \
  }
#define MSL_MAP_VEC3(name)                                                              \
  template <class T, int N>                                                             \
  vec<T, N> name(const vec<T, N>& a, const vec<T, N>& b, const vec<T, N>& c) {          \
    vec<T, N> r;                                                                        \
    for (int i = 0; i < N; ++i) r[i] = name(a[i], b[i], c[i]);                          \
    return r;                                                                           \
  }                                                                                     \
  template <class T, int N>                                                             \
  vec<T, N> name(const vec<T, N>& a, detail::scalar_arg<T> b, detail::scalar_arg<T> c) { \
    return name(a, vec<T, N>(b), vec<T, N>(c));                                         \
  }

#define MSL_FLOAT1(name, expr)                                    \
  inline float name(float x) { return expr; }                     \
  inline half name(half h) { return half(name(float(h))); }      \
  MSL_MAP_VEC1(name)
#define MSL_FLOAT2(name, expr)                                                   \
  inline float name(float x, float y) { return expr; }                           \
  inline half name(half x, half y) { return half(name(float(x), float(y))); }   \
  MSL_MAP_VEC2(name)

MSL_FLOAT1(sqrt, __builtin_sqrtf(x))
MSL_FLOAT1(rsqrt, 1.0f / __builtin_sqrtf(x))
MSL_FLOAT1(exp, __builtin_expf(x))
MSL_FLOAT1(exp2, __builtin_exp2f(x))
MSL_FLOAT1(exp10, __builtin_powf(10.0f, x))
MSL_FLOAT1(log, __builtin_logf(x))
MSL_FLOAT1(log2, __builtin_log2f(x))
MSL_FLOAT1(log10, __builtin_log10f(x))
MSL_FLOAT1(sin, __builtin_sinf(x))
MSL_FLOAT1(cos, __builtin_cosf(x))
MSL_FLOAT1(tan, __builtin_tanf(x))
MSL_FLOAT1(sinpi, __builtin_sinf(3.14159265358979f * x))
MSL_FLOAT1(cospi, __builtin_cosf(3.14159265358979f * x))
MSL_FLOAT1(asin, __builtin_asinf(x))
MSL_FLOAT1(acos, __builtin_acosf(x))
MSL_FLOAT1(atan, __builtin_atanf(x))
MSL_FLOAT1(sinh, __builtin_sinhf(x))
MSL_FLOAT1(cosh, __builtin_coshf(x))
MSL_FLOAT1(tanh, __builtin_tanhf(x))
MSL_FLOAT1(asinh, __builtin_asinhf(x))
MSL_FLOAT1(acosh, __builtin_acoshf(x))
MSL_FLOAT1(atanh, __builtin_atanhf(x))
MSL_FLOAT1(cbrt, __builtin_cbrtf(x))
MSL_FLOAT1(floor, __builtin_floorf(x))
MSL_FLOAT1(ceil, __builtin_ceilf(x))
MSL_FLOAT1(round, __builtin_roundf(x))
MSL_FLOAT1(rint, __builtin_rintf(x))
MSL_FLOAT1(trunc, __builtin_truncf(x))
MSL_FLOAT1(fabs, __builtin_fabsf(x))
MSL_FLOAT1(fract, __builtin_fminf(x - __builtin_floorf(x), 0x1.fffffep-1f))
MSL_FLOAT1(saturate, __builtin_fminf(__builtin_fmaxf(x, 0.0f), 1.0f))
MSL_FLOAT1(sign, x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f))
MSL_FLOAT2(pow, __builtin_powf(x, y))
MSL_FLOAT2(powr, __builtin_powf(x, y))
MSL_FLOAT2(fmod, __builtin_fmodf(x, y))
MSL_FLOAT2(atan2, __builtin_atan2f(x, y))
MSL_FLOAT2(fmin, __builtin_fminf(x, y))
MSL_FLOAT2(fmax, __builtin_fmaxf(x, y))
MSL_FLOAT2(fdim, __builtin_fdimf(x, y))
MSL_FLOAT2(copysign, __builtin_copysignf(x, y))
MSL_FLOAT2(step, y < x ? 0.0f : 1.0f)
MSL_FLOAT2(divide, x / y)

// Without an FMA instruction, fmaf is a slow libm emulation; the product of two floats is exact in
// double, so one double add and a rounding give the fused result except in rare double-rounding cases.
inline float fused_multiply_add(float a, float b, float c) {
#if defined(__FMA__) || defined(__aarch64__)
  return __builtin_fmaf(a, b, c);
#else
  return float(double(a) * double(b) + double(c));
#endif
}
inline float fma(float a, float b, float c) { return fused_multiply_add(a, b, c); }
inline half fma(half a, half b, half c) { return half(float(a) * float(b) + float(c)); }  // exact in float
MSL_MAP_VEC3(fma)
inline float mix(float x, float y, float a) { return x + (y - x) * a; }
inline half mix(half x, half y, half a) { return half(mix(float(x), float(y), float(a))); }
MSL_MAP_VEC3(mix)
inline float smoothstep(float e0, float e1, float x) {
  const float t = saturate((x - e0) / (e1 - e0));
  return t * t * (3.0f - 2.0f * t);
}
inline half smoothstep(half e0, half e1, half x) { return half(smoothstep(float(e0), float(e1), float(x))); }
MSL_MAP_VEC3(smoothstep)

#define MSL_PREDICATE(name, expr)                       \
  inline bool name(float x) { return expr; }            \
  inline bool name(half h) { return name(float(h)); }   \
  template <class T, int N>                             \
  vec<bool, N> name(const vec<T, N>& a) {               \
    vec<bool, N> r;                                     \
    for (int i = 0; i < N; ++i) r[i] = name(a[i]);      \
    return r;                                           \
  }
MSL_PREDICATE(isnan, __builtin_isnan(x))
MSL_PREDICATE(isinf, __builtin_isinf(x))
MSL_PREDICATE(isfinite, __builtin_isfinite(x))
MSL_PREDICATE(signbit, __builtin_signbit(x))
#undef MSL_PREDICATE

// min/max/clamp/abs on every scalar type (non-templates, so mixed literals convert).
#define MSL_ORDERED(T)                                                         \
  inline T min(T x, T y) { return y < x ? y : x; }                             \
  inline T max(T x, T y) { return x < y ? y : x; }                             \
  inline T clamp(T x, T lo, T hi) { return min(max(x, lo), hi); }             \
  inline T min3(T x, T y, T z) { return min(min(x, y), z); }                   \
  inline T max3(T x, T y, T z) { return max(max(x, y), z); }                   \
  inline T median3(T x, T y, T z) { return max(min(x, y), min(max(x, y), z)); }
MSL_ORDERED(signed char)
MSL_ORDERED(unsigned char)
MSL_ORDERED(short)
MSL_ORDERED(unsigned short)
MSL_ORDERED(int)
MSL_ORDERED(unsigned int)
MSL_ORDERED(long)
MSL_ORDERED(unsigned long)
#undef MSL_ORDERED
inline float min(float x, float y) { return __builtin_fminf(x, y); }
inline float max(float x, float y) { return __builtin_fmaxf(x, y); }
inline half min(half x, half y) { return half(min(float(x), float(y))); }
inline half max(half x, half y) { return half(max(float(x), float(y))); }
inline float clamp(float x, float lo, float hi) { return min(max(x, lo), hi); }
inline half clamp(half x, half lo, half hi) { return min(max(x, lo), hi); }
inline float min3(float x, float y, float z) { return min(min(x, y), z); }
inline float max3(float x, float y, float z) { return max(max(x, y), z); }
inline half min3(half x, half y, half z) { return min(min(x, y), z); }
inline half max3(half x, half y, half z) { return max(max(x, y), z); }
MSL_MAP_VEC2(min)
MSL_MAP_VEC2(max)
MSL_MAP_VEC3(clamp)

inline signed char abs(signed char x) { return x < 0 ? -x : x; }
inline short abs(short x) { return x < 0 ? -x : x; }
inline int abs(int x) { return x < 0 ? -x : x; }
inline long abs(long x) { return x < 0 ? -x : x; }
inline unsigned char abs(unsigned char x) { return x; }
inline unsigned short abs(unsigned short x) { return x; }
inline unsigned int abs(unsigned int x) { return x; }
inline unsigned long abs(unsigned long x) { return x; }
inline float abs(float x) { return __builtin_fabsf(x); }
inline half abs(half x) { return half(__builtin_fabsf(float(x))); }
MSL_MAP_VEC1(abs)

inline unsigned int popcount(unsigned int x) { return __builtin_popcount(x); }
inline int popcount(int x) { return __builtin_popcount(unsigned(x)); }
inline unsigned int clz(unsigned int x) { return x ? __builtin_clz(x) : 32; }
inline int clz(int x) { return int(clz(unsigned(x))); }
inline unsigned int ctz(unsigned int x) { return x ? __builtin_ctz(x) : 32; }
inline int ctz(int x) { return int(ctz(unsigned(x))); }
inline unsigned int mulhi(unsigned int x, unsigned int y) { return unsigned((uint64_t(x) * y) >> 32); }
inline int mulhi(int x, int y) { return int((int64_t(x) * y) >> 32); }
MSL_MAP_VEC1(popcount)

// Geometric functions accumulate in the element type, as the GPU does.
template <class T, int N>
T dot(const vec<T, N>& a, const vec<T, N>& b) {
  T sum = a[0] * b[0];
  for (int i = 1; i < N; ++i) sum = T(sum + a[i] * b[i]);
  return sum;
}
template <class V, class T, int S, int... I, class B>
T dot(const detail::swizzle<V, T, S, I...>& a, const B& b) { return dot(V(a), V(b)); }
template <class V, class T, int S, int... I>
T dot(const V& a, const detail::swizzle<V, T, S, I...>& b) { return dot(a, V(b)); }
template <class T, int N>
T length_squared(const vec<T, N>& a) { return dot(a, a); }
template <class T, int N>
T length(const vec<T, N>& a) { return sqrt(dot(a, a)); }
template <class T, int N>
T distance(const vec<T, N>& a, const vec<T, N>& b) { return length(a - b); }
template <class T, int N>
vec<T, N> normalize(const vec<T, N>& a) { return a * rsqrt(dot(a, a)); }
template <class T>
vec<T, 3> cross(const vec<T, 3>& a, const vec<T, 3>& b) {
  return vec<T, 3>(a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]);
}

inline bool all(bool b) { return b; }
inline bool any(bool b) { return b; }
template <int N>
bool all(const vec<bool, N>& v) {
  for (int i = 0; i < N; ++i) if (!v[i]) return false;
  return true;
}
template <int N>
bool any(const vec<bool, N>& v) {
  for (int i = 0; i < N; ++i) if (v[i]) return true;
  return false;
}

// select(a, b, c): b where c is true, else a.
template <class T, std::enable_if_t<!std::is_class_v<T>, int> = 0>
T select(T a, T b, bool c) { return c ? b : a; }
template <class T, int N>
vec<T, N> select(const vec<T, N>& a, const vec<T, N>& b, const vec<bool, N>& c) {
  vec<T, N> r;
  for (int i = 0; i < N; ++i) r[i] = c[i] ? b[i] : a[i];
  return r;
}
template <class T, int N>
vec<T, N> select(const vec<T, N>& a, const vec<T, N>& b, bool c) { return c ? b : a; }

namespace fast { using namespace ::metal; }
namespace precise { using namespace ::metal; }

#undef MSL_FLOAT1
#undef MSL_FLOAT2
#undef MSL_MAP_VEC1
#undef MSL_MAP_VEC2
#undef MSL_MAP_VEC3

}  // namespace metal
