// MSL atomics (memory_order_relaxed, as in MSL) on device and threadgroup memory. Threadgroups run on
// several OS threads at once, so these are real atomics.
#pragma once
#include "msl_math.h"

// Atomics are exempt from the race checker: its copy of a kernel leaves them uninstrumented.
#ifdef METAL_SIM_RACECHECK
#define MSL_ATOMIC_FN __attribute__((no_sanitize("thread")))
#else
#define MSL_ATOMIC_FN
#endif

namespace metal {

enum memory_order { memory_order_relaxed };

template <class T>
struct atomic {
  T value_;
};
using atomic_int = atomic<int>;
using atomic_uint = atomic<unsigned int>;
using atomic_bool = atomic<bool>;
using atomic_float = atomic<float>;

namespace detail {
template <class T>
MSL_ATOMIC_FN T* atomic_address(volatile atomic<T>* object) { return const_cast<T*>(&object->value_); }

template <class T, class Op>
MSL_ATOMIC_FN T atomic_update(volatile atomic<T>* object, Op op) {  // CAS loop for float and min/max
  T* p = atomic_address(object);
  T expected, desired;  // the generic builtins: the _n forms take integers and pointers only in clang
  __atomic_load(p, &expected, __ATOMIC_RELAXED);
  do {
    desired = op(expected);
  } while (!__atomic_compare_exchange(p, &expected, &desired, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
  return expected;
}
}  // namespace detail

template <class T>
MSL_ATOMIC_FN void atomic_store_explicit(volatile atomic<T>* object, detail::scalar_arg<T> desired, memory_order) {
  __atomic_store_n(detail::atomic_address(object), desired, __ATOMIC_RELAXED);
}
template <class T>
MSL_ATOMIC_FN T atomic_load_explicit(volatile atomic<T>* object, memory_order) {
  return __atomic_load_n(detail::atomic_address(object), __ATOMIC_RELAXED);
}
template <class T>
MSL_ATOMIC_FN T atomic_exchange_explicit(volatile atomic<T>* object, detail::scalar_arg<T> desired, memory_order) {
  return __atomic_exchange_n(detail::atomic_address(object), desired, __ATOMIC_RELAXED);
}
template <class T>
MSL_ATOMIC_FN bool atomic_compare_exchange_weak_explicit(volatile atomic<T>* object, T* expected,
                                           detail::scalar_arg<T> desired, memory_order, memory_order) {
  return __atomic_compare_exchange_n(detail::atomic_address(object), expected, desired, false,
                                     __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

#define MSL_ATOMIC_FETCH(name, builtin, expr)                                                  \
  template <class T>                                                                           \
  MSL_ATOMIC_FN T atomic_fetch_##name##_explicit(volatile atomic<T>* object, detail::scalar_arg<T> operand, \
                                   memory_order) {                                             \
    if constexpr (std::is_integral_v<T> && builtin) {                                          \
      return __atomic_fetch_##name(detail::atomic_address(object), operand, __ATOMIC_RELAXED); \
    } else {                                                                                   \
      return detail::atomic_update(object, [&](T old) { return T(expr); });                    \
    }                                                                                          \
  }
MSL_ATOMIC_FETCH(add, true, old + operand)
MSL_ATOMIC_FETCH(sub, true, old - operand)
MSL_ATOMIC_FETCH(and, true, old & operand)
MSL_ATOMIC_FETCH(or, true, old | operand)
MSL_ATOMIC_FETCH(xor, true, old ^ operand)
MSL_ATOMIC_FETCH(min, false, operand < old ? operand : old)
MSL_ATOMIC_FETCH(max, false, old < operand ? operand : old)
#undef MSL_ATOMIC_FETCH

}  // namespace metal
