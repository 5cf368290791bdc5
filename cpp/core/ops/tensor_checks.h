// Input checks shared by the elementwise and data-movement schemas, which accept several dtypes
// (shape arithmetic runs on int64 through the same ops that compute on float32).
#pragma once
#include <initializer_list>
#include <string>

#include "core/op_schema.h"

namespace metalnn {

// Fails with DtypeError naming input i when its dtype is not one of `allowed`.
void require_dtype(const InferContext& ctx, int i, std::initializer_list<DType> allowed);
// Fails with DtypeError when present input i's dtype differs from input `ref`'s.
void require_same_dtype(const InferContext& ctx, int i, int ref);
// Reads a constant input holding integers (shape, axes, pads...); fails with DtypeError on other dtypes.
std::vector<int64_t> require_int_constant(const InferContext& ctx, int i, const char* what);
// Fails with ModelError when `axes` (already normalised) repeats an axis.
void require_unique_axes(const InferContext& ctx, const std::vector<int>& axes, const char* what);

// The dtypes shape arithmetic uses besides float32.
inline constexpr std::initializer_list<DType> kNumericDtypes = {DType::Float32, DType::Int64, DType::Int32};

}  // namespace metalnn
