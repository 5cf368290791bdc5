// MSL vector types: vec<T, N> for N = 2, 3, 4 with MSL size and alignment (a 3-vector occupies 4
// elements, so float3 is 16 bytes), .xyzw/.rgba components and swizzles that can be read and written.
#pragma once
#include <type_traits>

#include "../kernel_abi.h"

namespace metal {

template <class T, int N>
struct vec;

namespace detail {

constexpr int storage_length(int n) { return n == 3 ? 4 : n; }

// A multi-component swizzle such as v.zyx: a view over the parent's storage. V, the vector type it
// reads as, is a template argument so that ADL finds V's operators for expressions like a.xy * b.
template <class V, class T, int S, int... I>
struct swizzle {
  T s_[S];

  operator V() const { return V(s_[I]...); }
  swizzle& operator=(const V& v) {
    const V copy = v;  // the source may alias this storage (v.xy = v.yx)
#ifdef METAL_SIM_RACECHECK
    (::metal_sim::race_vector_component(s_, sizeof(s_), &s_[I]), ...);
#endif
    int k = 0;
    ((s_[I] = copy[k++]), ...);
    return *this;
  }
  swizzle& operator=(const swizzle& other) { return *this = V(other); }
  swizzle& operator+=(const V& v) { return *this = V(*this) + v; }
  swizzle& operator-=(const V& v) { return *this = V(*this) - v; }
  swizzle& operator*=(const V& v) { return *this = V(*this) * v; }
  swizzle& operator/=(const V& v) { return *this = V(*this) / v; }
  T operator[](int i) const { return V(*this)[i]; }
};

// A template argument deduced from a reference names the object's address space in the address-space
// check (C++ for OpenCL); the traits below look through it.
template <class A>
struct remove_address_space { using type = A; };
#if defined(METAL_SIM_ADDRESS_SPACE_CHECK)
template <class A>
struct remove_address_space<__global A> { using type = A; };
template <class A>
struct remove_address_space<__local A> { using type = A; };
template <class A>
struct remove_address_space<__private A> { using type = A; };
template <class A>
struct remove_address_space<__generic A> { using type = A; };
#endif
template <class A>
using remove_address_space_t = typename remove_address_space<A>::type;

template <class A>
struct component_count_of : std::integral_constant<int, 1> {};
template <class T, int N>
struct component_count_of<vec<T, N>> : std::integral_constant<int, N> {};
template <class V, class T, int S, int... I>
struct component_count_of<swizzle<V, T, S, I...>> : std::integral_constant<int, int(sizeof...(I))> {};
template <class A>
struct component_count : component_count_of<remove_address_space_t<A>> {};

// Component lists for generating swizzle members: (xyzw name, rgba name, index).
#define MSL_COMPS2_A(M, ...) M(__VA_ARGS__, x, r, 0) M(__VA_ARGS__, y, g, 1)
#define MSL_COMPS3_A(M, ...) MSL_COMPS2_A(M, __VA_ARGS__) M(__VA_ARGS__, z, b, 2)
#define MSL_COMPS4_A(M, ...) MSL_COMPS3_A(M, __VA_ARGS__) M(__VA_ARGS__, w, a, 3)
#define MSL_COMPS2_B(M, ...) M(__VA_ARGS__, x, r, 0) M(__VA_ARGS__, y, g, 1)
#define MSL_COMPS3_B(M, ...) MSL_COMPS2_B(M, __VA_ARGS__) M(__VA_ARGS__, z, b, 2)
#define MSL_COMPS4_B(M, ...) MSL_COMPS3_B(M, __VA_ARGS__) M(__VA_ARGS__, w, a, 3)
#define MSL_COMPS2_C(M, ...) M(__VA_ARGS__, x, r, 0) M(__VA_ARGS__, y, g, 1)
#define MSL_COMPS3_C(M, ...) MSL_COMPS2_C(M, __VA_ARGS__) M(__VA_ARGS__, z, b, 2)
#define MSL_COMPS4_C(M, ...) MSL_COMPS3_C(M, __VA_ARGS__) M(__VA_ARGS__, w, a, 3)
#define MSL_COMPS2_D(M, ...) M(__VA_ARGS__, x, r, 0) M(__VA_ARGS__, y, g, 1)
#define MSL_COMPS3_D(M, ...) MSL_COMPS2_D(M, __VA_ARGS__) M(__VA_ARGS__, z, b, 2)
#define MSL_COMPS4_D(M, ...) MSL_COMPS3_D(M, __VA_ARGS__) M(__VA_ARGS__, w, a, 3)

#define MSL_SWIZZLE(K, xyzw_name, rgba_name, ...)                          \
  ::metal::detail::swizzle<vec<T, K>, T, kStorage, __VA_ARGS__> xyzw_name; \
  ::metal::detail::swizzle<vec<T, K>, T, kStorage, __VA_ARGS__> rgba_name;
#define MSL_SW2_L1(D, a1, b1, i1) MSL_COMPS##D##_B(MSL_SW2_L2, D, a1, b1, i1)
#define MSL_SW2_L2(D, a1, b1, i1, a2, b2, i2) MSL_SWIZZLE(2, a1##a2, b1##b2, i1, i2)
#define MSL_SW3_L1(D, a1, b1, i1) MSL_COMPS##D##_B(MSL_SW3_L2, D, a1, b1, i1)
#define MSL_SW3_L2(D, a1, b1, i1, a2, b2, i2) MSL_COMPS##D##_C(MSL_SW3_L3, D, a1, b1, i1, a2, b2, i2)
#define MSL_SW3_L3(D, a1, b1, i1, a2, b2, i2, a3, b3, i3) \
  MSL_SWIZZLE(3, a1##a2##a3, b1##b2##b3, i1, i2, i3)
#define MSL_SW4_L1(D, a1, b1, i1) MSL_COMPS##D##_B(MSL_SW4_L2, D, a1, b1, i1)
#define MSL_SW4_L2(D, a1, b1, i1, a2, b2, i2) MSL_COMPS##D##_C(MSL_SW4_L3, D, a1, b1, i1, a2, b2, i2)
#define MSL_SW4_L3(D, a1, b1, i1, a2, b2, i2, a3, b3, i3) \
  MSL_COMPS##D##_D(MSL_SW4_L4, D, a1, b1, i1, a2, b2, i2, a3, b3, i3)
#define MSL_SW4_L4(D, a1, b1, i1, a2, b2, i2, a3, b3, i3, a4, b4, i4) \
  MSL_SWIZZLE(4, a1##a2##a3##a4, b1##b2##b3##b4, i1, i2, i3, i4)
#define MSL_ALL_SWIZZLES(D) \
  MSL_COMPS##D##_A(MSL_SW2_L1, D) MSL_COMPS##D##_A(MSL_SW3_L1, D) MSL_COMPS##D##_A(MSL_SW4_L1, D)

template <class T, int N>
struct vec_storage;

template <class T>
struct alignas(sizeof(T) * 2) vec_storage<T, 2> {
  static constexpr int kStorage = 2;
  union {
    T s_[2];
    struct { T x, y; };
    struct { T r, g; };
    MSL_ALL_SWIZZLES(2)
  };
};
template <class T>
struct alignas(sizeof(T) * 4) vec_storage<T, 3> {
  static constexpr int kStorage = 4;
  union {
    T s_[4];
    struct { T x, y, z; };
    struct { T r, g, b; };
    MSL_ALL_SWIZZLES(3)
  };
};
template <class T>
struct alignas(sizeof(T) * 4) vec_storage<T, 4> {
  static constexpr int kStorage = 4;
  union {
    T s_[4];
    struct { T x, y, z, w; };
    struct { T r, g, b, a; };
    MSL_ALL_SWIZZLES(4)
  };
};

template <class A>
struct as_vector_of { using type = A; };
template <class V, class T, int S, int... I>
struct as_vector_of<swizzle<V, T, S, I...>> { using type = V; };
template <class A>
struct as_vector : as_vector_of<remove_address_space_t<A>> {};

template <class T, class A>
void append_components(T* out, int& k, const A& a) {
  if constexpr (!std::is_class_v<A>) {
    out[k++] = T(a);
  } else {
    const typename as_vector<A>::type v = a;
    for (int i = 0; i < component_count<A>::value; ++i) out[k++] = T(v.s_[i]);
  }
}

}  // namespace detail

template <class T, int N>
struct vec : detail::vec_storage<T, N> {
  using value_type = T;
  using detail::vec_storage<T, N>::s_;

  vec() = default;
  vec(T scalar) {  // NOLINT: MSL converts a scalar to a vector implicitly
    for (int i = 0; i < N; ++i) s_[i] = scalar;
  }
  template <class... A, std::enable_if_t<(sizeof...(A) >= 2) &&
                                             ((detail::component_count<A>::value + ...) == N),
                                         int> = 0>
  vec(const A&... parts) {
    int k = 0;
    (detail::append_components(s_, k, parts), ...);
  }
  template <class U>
  explicit vec(const vec<U, N>& other) {
    for (int i = 0; i < N; ++i) s_[i] = T(other.s_[i]);
  }
  vec(const vec& other) = default;
  vec& operator=(const vec& other) {
    for (int i = 0; i < N; ++i) s_[i] = other.s_[i];
    return *this;
  }

  T& operator[](int i) {
#ifdef METAL_SIM_RACECHECK
    // A store through this reference rewrites the whole vector on the GPU.
    ::metal_sim::race_vector_component(s_, sizeof(s_), &s_[i]);
#endif
    return s_[i];
  }
  const T& operator[](int i) const { return s_[i]; }

#define MSL_VEC_BINARY(op)                                      \
  friend vec operator op(const vec& a, const vec& b) {          \
    vec r;                                                      \
    for (int i = 0; i < N; ++i) r.s_[i] = T(a.s_[i] op b.s_[i]); \
    return r;                                                   \
  }                                                             \
  vec& operator op##=(const vec& b) {                           \
    for (int i = 0; i < N; ++i) s_[i] = T(s_[i] op b.s_[i]);    \
    return *this;                                               \
  }
  MSL_VEC_BINARY(+)
  MSL_VEC_BINARY(-)
  MSL_VEC_BINARY(*)
  MSL_VEC_BINARY(/)
  MSL_VEC_BINARY(%)
  MSL_VEC_BINARY(&)
  MSL_VEC_BINARY(|)
  MSL_VEC_BINARY(^)
  MSL_VEC_BINARY(<<)
  MSL_VEC_BINARY(>>)
#undef MSL_VEC_BINARY

#define MSL_VEC_COMPARE(op)                                            \
  friend vec<bool, N> operator op(const vec& a, const vec& b) {        \
    vec<bool, N> r;                                                    \
    for (int i = 0; i < N; ++i) r.s_[i] = a.s_[i] op b.s_[i];          \
    return r;                                                          \
  }
  MSL_VEC_COMPARE(==)
  MSL_VEC_COMPARE(!=)
  MSL_VEC_COMPARE(<)
  MSL_VEC_COMPARE(<=)
  MSL_VEC_COMPARE(>)
  MSL_VEC_COMPARE(>=)
  MSL_VEC_COMPARE(&&)
  MSL_VEC_COMPARE(||)
#undef MSL_VEC_COMPARE

  friend vec operator-(const vec& a) {
    vec r;
    for (int i = 0; i < N; ++i) r.s_[i] = T(-a.s_[i]);
    return r;
  }
  friend vec operator+(const vec& a) { return a; }
  friend vec operator~(const vec& a) {
    vec r;
    for (int i = 0; i < N; ++i) r.s_[i] = T(~a.s_[i]);
    return r;
  }
  friend vec<bool, N> operator!(const vec& a) {
    vec<bool, N> r;
    for (int i = 0; i < N; ++i) r.s_[i] = !a.s_[i];
    return r;
  }
};

template <class T, int N>
struct packed_storage;
template <class T>
struct packed_storage<T, 2> {
  union { T s_[2]; struct { T x, y; }; };
};
template <class T>
struct packed_storage<T, 3> {
  union { T s_[3]; struct { T x, y, z; }; };
};
template <class T>
struct packed_storage<T, 4> {
  union { T s_[4]; struct { T x, y, z, w; }; };
};

// Packed vectors: no padding, element alignment (packed_float3 is 12 bytes).
template <class T, int N>
struct packed_vec : packed_storage<T, N> {
  using packed_storage<T, N>::s_;
  packed_vec() = default;
  packed_vec(const vec<T, N>& v) {  // NOLINT: MSL converts between packed and aligned implicitly
    for (int i = 0; i < N; ++i) s_[i] = v.s_[i];
  }
  template <class... A, std::enable_if_t<(sizeof...(A) >= 2), int> = 0>
  packed_vec(const A&... parts) : packed_vec(vec<T, N>(parts...)) {}
  operator vec<T, N>() const {
    vec<T, N> v;
    for (int i = 0; i < N; ++i) v.s_[i] = s_[i];
    return v;
  }
  T& operator[](int i) { return s_[i]; }
  const T& operator[](int i) const { return s_[i]; }
};

}  // namespace metal
