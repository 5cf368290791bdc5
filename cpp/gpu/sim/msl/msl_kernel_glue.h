// What translated code uses beyond MSL itself: function-constant proxies, threadgroup variables, and
// binding a kernel's parameters from the runtime's ThreadArgs.
#pragma once
#include <utility>

#include "../kernel_abi.h"
#ifndef METAL_SIM_ADDRESS_SPACE_CHECK
#include "msl_checked_ptr.h"
#endif
#include "msl_types.h"

namespace metal_sim {

template <class T>
T decode_constant(const ConstantValue& v) {
  switch (v.type) {
    case ConstantType::kBool: return T(v.bits != 0);
    case ConstantType::kInt: return T(int32_t(v.bits));
    case ConstantType::kUInt: return T(v.bits);
    case ConstantType::kShort: return T(int16_t(v.bits));
    case ConstantType::kUShort: return T(uint16_t(v.bits));
    case ConstantType::kChar: return T(int8_t(v.bits));
    case ConstantType::kUChar: return T(uint8_t(v.bits));
    case ConstantType::kFloat: return T(::metal::as_type<float>(v.bits));
    case ConstantType::kHalf: return T(::metal::as_type<half>(uint16_t(v.bits)));
  }
  return T();
}

// `constant T name [[function_constant(Index)]]` becomes one of these: reads the value the current
// pipeline was created with.
template <class T, unsigned Index>
struct FunctionConstant {
  operator T() const {  // NOLINT: used wherever MSL uses the constant
    const ConstantValue* v = function_constant(Index);
    if (!v) kernel_fault("a function constant was used but the pipeline gave it no value");
    return decode_constant<T>(*v);
  }
  bool defined() const { return function_constant(Index) != nullptr; }
};

// A program-scope constant initialised from function constants: evaluated when read.
template <class T>
struct DerivedConstant {
  using Evaluate = T();  // not `T (*evaluate)()`, which C++ for OpenCL (the address-space check) rejects
  Evaluate* evaluate;
  operator T() const { return evaluate(); }  // NOLINT
};

template <class T, class Name>
threadgroup T& threadgroup_variable(unsigned site, Name name) {
  void* memory = threadgroup_alloc(site, sizeof(T), alignof(T));
#ifdef METAL_SIM_RACECHECK
  race_name_threadgroup(memory, name);
#endif
  return *(threadgroup T*)memory;
}

template <class P>
struct builtin_shape { static constexpr int size = 1; using element = P; };
template <class U, int N>
struct builtin_shape<::metal::vec<U, N>> { static constexpr int size = N; using element = U; };

inline void builtin_value(ParamKind kind, const ThreadArgs& a, uint32_t out[3]) {
  auto copy3 = [&](const uint32_t* v) { out[0] = v[0], out[1] = v[1], out[2] = v[2]; };
  out[0] = out[1] = out[2] = 0;
  switch (kind) {
    case ParamKind::kThreadPositionInGrid: copy3(a.position_in_grid); break;
    case ParamKind::kThreadPositionInThreadgroup: copy3(a.position_in_threadgroup); break;
    case ParamKind::kThreadgroupPositionInGrid: copy3(a.threadgroup_position); break;
    case ParamKind::kThreadsPerThreadgroup: copy3(a.threads_per_threadgroup); break;
    case ParamKind::kThreadgroupsPerGrid: copy3(a.threadgroups_per_grid); break;
    case ParamKind::kThreadsPerGrid: copy3(a.threads_per_grid); break;
    case ParamKind::kThreadIndexInThreadgroup: out[0] = a.index_in_threadgroup; break;
    case ParamKind::kThreadIndexInSimdgroup: out[0] = a.simd_lane; break;
    case ParamKind::kSimdgroupIndexInThreadgroup: out[0] = a.simd_group; break;
    case ParamKind::kThreadsPerSimdgroup: out[0] = kSimdWidth; break;
    case ParamKind::kSimdgroupsPerThreadgroup: out[0] = a.simd_groups; break;
    case ParamKind::kThreadIndexInQuadgroup: out[0] = a.index_in_threadgroup % 4; break;
    case ParamKind::kQuadgroupIndexInThreadgroup: out[0] = a.index_in_threadgroup / 4; break;
    case ParamKind::kGridOrigin:
    case ParamKind::kBuffer:
    case ParamKind::kThreadgroupMemory: break;
  }
}

template <class P>
P bind_param(const ParamSpec& spec, const ThreadArgs& a) {
#ifndef METAL_SIM_ADDRESS_SPACE_CHECK
  if constexpr (is_checked_ptr<std::remove_cv_t<P>>::value) {
    using Element = typename std::remove_cv_t<P>::element_type;
    void* p = a.buffers[spec.index];
    return std::remove_cv_t<P>(static_cast<Element*>(p), p, a.buffer_lengths[spec.index], &spec);
  } else
#endif
  if constexpr (std::is_pointer_v<P>) {
    void* p = spec.kind == ParamKind::kBuffer ? a.buffers[spec.index] : a.threadgroup_memory[spec.index];
    return static_cast<P>(p);
  } else if constexpr (std::is_reference_v<P>) {
    return *static_cast<std::remove_reference_t<P>*>(a.buffers[spec.index]);
  } else {
    using Value = std::remove_cv_t<P>;
    using Shape = builtin_shape<Value>;
    uint32_t v[3];
    builtin_value(spec.kind, a, v);
    Value out;
    if constexpr (Shape::size == 1) {
      out = Value(v[0]);
    } else {
      for (int i = 0; i < Shape::size; ++i) out[i] = typename Shape::element(v[i]);
    }
    return out;
  }
}

template <class... P, size_t... I>
void call_kernel(void (*fn)(P...), const ParamSpec* specs, const ThreadArgs& a, std::index_sequence<I...>) {
  fn(bind_param<P>(specs[I], a)...);
}
template <class... P>
void call_kernel(void (*fn)(P...), const ParamSpec* specs, const ThreadArgs& a) {
  call_kernel(fn, specs, a, std::index_sequence_for<P...>{});
}

}  // namespace metal_sim

template <class T, unsigned Index>
bool is_function_constant_defined(const ::metal_sim::FunctionConstant<T, Index>& c) {
  return c.defined();
}
