// MSL scalar and vector type names (global, as in MSL), half as _Float16, numeric_limits and the
// metal:: type traits kernels use.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "msl_vec.h"

#ifndef METAL_SIM_ADDRESS_SPACE_CHECK
using half = _Float16;  // msl_check.h spells it as a macro
#endif
using uint = unsigned int;
using ushort = unsigned short;
using uchar = unsigned char;
using ulong = unsigned long;

#define MSL_VECTOR_TYPES(T, name)                                                  \
  using name##2 = ::metal::vec<T, 2>;                                              \
  using name##3 = ::metal::vec<T, 3>;                                              \
  using name##4 = ::metal::vec<T, 4>;                                              \
  using packed_##name##2 = ::metal::packed_vec<T, 2>;                              \
  using packed_##name##3 = ::metal::packed_vec<T, 3>;                              \
  using packed_##name##4 = ::metal::packed_vec<T, 4>;                              \
  static_assert(sizeof(name##3) == 4 * sizeof(T), "MSL 3-vectors occupy 4 elements"); \
  static_assert(sizeof(packed_##name##3) == 3 * sizeof(T), "packed 3-vectors do not");
MSL_VECTOR_TYPES(bool, bool)
MSL_VECTOR_TYPES(signed char, char)
MSL_VECTOR_TYPES(unsigned char, uchar)
MSL_VECTOR_TYPES(short, short)
MSL_VECTOR_TYPES(unsigned short, ushort)
MSL_VECTOR_TYPES(int, int)
MSL_VECTOR_TYPES(unsigned int, uint)
MSL_VECTOR_TYPES(long, long)
MSL_VECTOR_TYPES(unsigned long, ulong)
MSL_VECTOR_TYPES(_Float16, half)
MSL_VECTOR_TYPES(float, float)
#undef MSL_VECTOR_TYPES

namespace metal {

template <class T>
struct numeric_limits : std::numeric_limits<T> {};

// libstdc++ has no numeric_limits<_Float16> before GCC 13.
template <>
struct numeric_limits<half> {
  static constexpr bool is_specialized = true;
  static constexpr bool is_signed = true;
  static constexpr bool has_infinity = true;
  static constexpr int digits = 11;
  static half min() { return half(6.103515625e-05f); }
  static half max() { return half(65504.0f); }
  static half lowest() { return half(-65504.0f); }
  static half epsilon() { return half(0.0009765625f); }
  static half infinity() { return half(__builtin_inff()); }
  static half quiet_NaN() { return half(__builtin_nanf("")); }
  static half denorm_min() { return half(5.9604644775390625e-08f); }
};

using std::conditional;
using std::conditional_t;
using std::enable_if;
using std::enable_if_t;
using std::integral_constant;
template <class T>
struct is_floating_point : std::is_floating_point<T> {};
template <>
struct is_floating_point<half> : std::true_type {};
template <class T>
constexpr bool is_floating_point_v = is_floating_point<T>::value;
using std::is_integral;
using std::is_same;
using std::is_same_v;
using std::is_signed;
using std::is_unsigned;
using std::make_signed;
using std::make_signed_t;
using std::make_unsigned;
using std::make_unsigned_t;
using std::remove_cv_t;
using std::remove_reference_t;
using std::true_type;
using std::false_type;


template <class To, class From>
To as_type(const From& from) {
  static_assert(sizeof(To) == sizeof(From), "as_type: source and destination sizes differ");
  To to;
  std::memcpy(static_cast<void*>(&to), static_cast<const void*>(&from), sizeof(To));
  return to;
}

}  // namespace metal
