// Maps a runtime DType to the C++ type that stores it, so one templated kernel body serves every
// dtype an op accepts (float32 math and int64 shape arithmetic through the same code).
#pragma once
#include <cstdint>
#include <utility>

#include "core/dtype.h"
#include "core/error.h"

namespace metalnn::cpu {

template <class T>
struct TypeTag {
  using type = T;
};

template <DType D>
struct CType;
template <> struct CType<DType::Float32> { using type = float; };
template <> struct CType<DType::Float16> { using type = _Float16; };
template <> struct CType<DType::Int64> { using type = int64_t; };
template <> struct CType<DType::Int32> { using type = int32_t; };
template <> struct CType<DType::Int8> { using type = int8_t; };
template <> struct CType<DType::UInt8> { using type = uint8_t; };
template <> struct CType<DType::Bool> { using type = bool; };  // one byte holding 0 or 1

// Calls f(TypeTag<T>{}) for the type storing `t`, which must be one of `Allowed` (the schema has
// checked it; anything else is a bug and raises DtypeError).
template <DType First, DType... Rest, class F>
decltype(auto) visit_dtype(DType t, F&& f) {
  if (t == First) return f(TypeTag<typename CType<First>::type>{});
  if constexpr (sizeof...(Rest) > 0) {
    return visit_dtype<Rest...>(t, std::forward<F>(f));
  } else {
    throw DtypeError("cpu kernel called with unexpected dtype " + dtype_name(t));
  }
}

// Every dtype the engine stores.
template <class F>
decltype(auto) visit_any_dtype(DType t, F&& f) {
  return visit_dtype<DType::Float32, DType::Int64, DType::Int32, DType::Bool, DType::Float16, DType::Int8,
                     DType::UInt8>(t, std::forward<F>(f));
}

// Float32, int64 and int32: the dtypes of math that also serves shape arithmetic.
template <class F>
decltype(auto) visit_numeric_dtype(DType t, F&& f) {
  return visit_dtype<DType::Float32, DType::Int64, DType::Int32>(t, std::forward<F>(f));
}

// Data movement only needs the element's size: calls f(TypeTag<uintN_t>{}).
template <class F>
decltype(auto) visit_element_size(size_t bytes, F&& f) {
  switch (bytes) {
    case 1: return f(TypeTag<uint8_t>{});
    case 2: return f(TypeTag<uint16_t>{});
    case 4: return f(TypeTag<uint32_t>{});
    case 8: return f(TypeTag<uint64_t>{});
    default: break;
  }
  throw DtypeError("cpu kernel called with unexpected element size " + std::to_string(bytes));
}

}  // namespace metalnn::cpu
