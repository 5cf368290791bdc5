// Barriers and the simd_* SIMD-group functions (width 32). Each call names its .metal line through
// default arguments, so the runtime can report divergence at the source line.
#pragma once
#include "../kernel_abi.h"
#include "msl_math.h"

namespace metal {

enum class mem_flags : unsigned {
  mem_none = 0,
  mem_device = 1,
  mem_threadgroup = 2,
  mem_texture = 4,
  mem_threadgroup_imageblock = 8,
  mem_object_data = 16,
};
inline mem_flags operator|(mem_flags a, mem_flags b) { return mem_flags(unsigned(a) | unsigned(b)); }

#define MSL_SITE MSL_STRING site_file = __builtin_FILE(), unsigned site_line = __builtin_LINE()

inline void threadgroup_barrier(mem_flags, MSL_SITE) { ::metal_sim::threadgroup_barrier_at(site_file, site_line); }
inline void simdgroup_barrier(mem_flags, MSL_SITE) { ::metal_sim::simdgroup_barrier_at(site_file, site_line); }

namespace detail {
template <class T>
T lane_value(const ::metal_sim::SimdLanes& lanes, unsigned lane) {
  T value;
  std::memcpy(static_cast<void*>(&value), lanes.slots + lane * ::metal_sim::kSimdSlotBytes, sizeof(T));
  return value;
}
template <class T>
::metal_sim::SimdLanes exchange(const T& value, MSL_STRING what, MSL_STRING file, unsigned line) {
  static_assert(sizeof(T) <= ::metal_sim::kSimdSlotBytes, "simd_*: value too large");
  return ::metal_sim::simd_exchange(&value, sizeof(T), what, file, line);
}
inline bool lane_active(const ::metal_sim::SimdLanes& lanes, unsigned lane) {
  return lane < ::metal_sim::kSimdWidth && (lanes.active_mask >> lane & 1u);
}
// Folds the active lanes in lane order (the GPU's order differs; tests allow for it).
template <class T, class Op>
T reduce(const ::metal_sim::SimdLanes& lanes, Op op, unsigned last_lane = ::metal_sim::kSimdWidth - 1) {
  bool first = true;
  T acc{};
  for (unsigned l = 0; l <= last_lane; ++l) {
    if (!lane_active(lanes, l)) continue;
    const T v = lane_value<T>(lanes, l);
    acc = first ? v : op(acc, v);
    first = false;
  }
  return acc;
}
}  // namespace detail

#define MSL_SIMD_REDUCTION(name, expr)                                         \
  template <class T>                                                           \
  T name(T x, MSL_SITE) {                                                      \
    const auto lanes = detail::exchange(x, #name, site_file, site_line);       \
    return detail::reduce<T>(lanes, [](const T& a, const T& b) { return expr; }); \
  }
MSL_SIMD_REDUCTION(simd_sum, T(a + b))
MSL_SIMD_REDUCTION(simd_product, T(a * b))
MSL_SIMD_REDUCTION(simd_min, min(a, b))
MSL_SIMD_REDUCTION(simd_max, max(a, b))
MSL_SIMD_REDUCTION(simd_and, T(a & b))
MSL_SIMD_REDUCTION(simd_or, T(a | b))
MSL_SIMD_REDUCTION(simd_xor, T(a ^ b))
#undef MSL_SIMD_REDUCTION


template <class T>
T simd_prefix_inclusive_sum(T x, MSL_SITE) {
  const auto lanes = detail::exchange(x, "simd_prefix_inclusive_sum", site_file, site_line);
  return detail::reduce<T>(lanes, [](const T& a, const T& b) { return T(a + b); }, lanes.lane);
}
template <class T>
T simd_prefix_exclusive_sum(T x, MSL_SITE) {
  const auto lanes = detail::exchange(x, "simd_prefix_exclusive_sum", site_file, site_line);
  if (lanes.lane == 0) return T(0);
  return detail::reduce<T>(lanes, [](const T& a, const T& b) { return T(a + b); }, lanes.lane - 1);
}
template <class T>
T simd_prefix_inclusive_product(T x, MSL_SITE) {
  const auto lanes = detail::exchange(x, "simd_prefix_inclusive_product", site_file, site_line);
  return detail::reduce<T>(lanes, [](const T& a, const T& b) { return T(a * b); }, lanes.lane);
}
template <class T>
T simd_prefix_exclusive_product(T x, MSL_SITE) {
  const auto lanes = detail::exchange(x, "simd_prefix_exclusive_product", site_file, site_line);
  if (lanes.lane == 0) return T(1);
  return detail::reduce<T>(lanes, [](const T& a, const T& b) { return T(a * b); }, lanes.lane - 1);
}

// Shuffles read another lane's value. Reading a lane that is inactive (or, except for the up/down
// shifts, outside the SIMD-group) is undefined in MSL: it gives a poison value (all bits set: NaN for
// floats, -1 for signed integers), like unwritten threadgroup memory. simd_shuffle_up/down leave the
// lanes whose source lies outside the SIMD-group unchanged, as the specification says.
namespace detail {
template <class T>
T poison() {
  T value;
  std::memset(static_cast<void*>(&value), 0xFF, sizeof(T));
  return value;
}
}  // namespace detail
#define MSL_SIMD_SHUFFLE(name, arg_type, source_lane, outside_keeps_own)        \
  template <class T>                                                            \
  T name(T x, arg_type arg, MSL_SITE) {                                         \
    const auto lanes = detail::exchange(x, #name, site_file, site_line);        \
    const unsigned lane = lanes.lane;                                           \
    const unsigned source = (source_lane);                                      \
    if (detail::lane_active(lanes, source)) return detail::lane_value<T>(lanes, source); \
    return (outside_keeps_own) && source >= ::metal_sim::kSimdWidth ? x : detail::poison<T>(); \
  }
MSL_SIMD_SHUFFLE(simd_shuffle, unsigned short, arg, false)
MSL_SIMD_SHUFFLE(simd_broadcast, unsigned short, arg, false)
MSL_SIMD_SHUFFLE(simd_shuffle_xor, unsigned short, lane ^ arg, false)
MSL_SIMD_SHUFFLE(simd_shuffle_down, unsigned short, lane + arg, true)
MSL_SIMD_SHUFFLE(simd_shuffle_up, unsigned short, lane >= arg ? lane - arg : 1000u, true)
MSL_SIMD_SHUFFLE(simd_shuffle_rotate_down, unsigned short, (lane + arg) % ::metal_sim::kSimdWidth, false)
MSL_SIMD_SHUFFLE(simd_shuffle_rotate_up, unsigned short,
                 (lane + ::metal_sim::kSimdWidth - arg % ::metal_sim::kSimdWidth) % ::metal_sim::kSimdWidth, false)
MSL_SIMD_SHUFFLE(quad_shuffle, unsigned short, (lane & ~3u) | (arg & 3u), false)
MSL_SIMD_SHUFFLE(quad_broadcast, unsigned short, (lane & ~3u) | (arg & 3u), false)
MSL_SIMD_SHUFFLE(quad_shuffle_xor, unsigned short, (lane & ~3u) | ((lane ^ arg) & 3u), false)
#undef MSL_SIMD_SHUFFLE

template <class T>
T simd_broadcast_first(T x, MSL_SITE) {
  const auto lanes = detail::exchange(x, "simd_broadcast_first", site_file, site_line);
  return detail::lane_value<T>(lanes, unsigned(__builtin_ctz(lanes.active_mask)));
}

struct simd_vote {
  using vote_t = uint64_t;
  vote_t bits_;
  explicit constexpr simd_vote(vote_t bits = 0) : bits_(bits) {}
  explicit operator vote_t() const { return bits_; }
  bool all() const { return bits_ == 0xffffffffu; }
  bool any() const { return bits_ != 0; }
};

inline simd_vote simd_ballot(bool predicate, MSL_SITE) {
  const auto lanes = detail::exchange(predicate, "simd_ballot", site_file, site_line);
  uint64_t bits = 0;
  for (unsigned l = 0; l < ::metal_sim::kSimdWidth; ++l)
    if (detail::lane_active(lanes, l) && detail::lane_value<bool>(lanes, l)) bits |= uint64_t(1) << l;
  return simd_vote(bits);
}
inline bool simd_all(bool predicate, MSL_SITE) {
  const auto lanes = detail::exchange(predicate, "simd_all", site_file, site_line);
  return detail::reduce<bool>(lanes, [](bool a, bool b) { return a && b; });
}
inline bool simd_any(bool predicate, MSL_SITE) {
  const auto lanes = detail::exchange(predicate, "simd_any", site_file, site_line);
  return detail::reduce<bool>(lanes, [](bool a, bool b) { return a || b; });
}
inline simd_vote simd_active_threads_mask(MSL_SITE) {
  const auto lanes = detail::exchange(true, "simd_active_threads_mask", site_file, site_line);
  return simd_vote(lanes.active_mask);
}
inline bool simd_is_first(MSL_SITE) {
  const auto lanes = detail::exchange(true, "simd_is_first", site_file, site_line);
  return lanes.lane == unsigned(__builtin_ctz(lanes.active_mask));
}
inline bool simd_is_helper_thread() { return false; }

template <class T>
T quad_sum(T x, MSL_SITE) {
  const auto lanes = detail::exchange(x, "quad_sum", site_file, site_line);
  T sum = T(0);
  for (unsigned l = lanes.lane & ~3u; l < (lanes.lane & ~3u) + 4; ++l)
    if (detail::lane_active(lanes, l)) sum = T(sum + detail::lane_value<T>(lanes, l));
  return sum;
}

}  // namespace metal
