// Zero-copy conversions between NumPy arrays and engine Tensors.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "core/tensor.h"

namespace metalnn::python {

namespace py = pybind11;

DType dtype_of(const py::dtype& dt);
py::dtype numpy_dtype(DType t);

// The dtype and shape of a NumPy array as a Tensor with no data, checked against the size limits
// (core/sizes.h) without touching or copying the array's memory. A dtype the engine does not store
// is a DtypeError naming `expected` when given.
Tensor array_view(const py::array& array, const std::string& what, DType expected = DType::Undefined);
// Decodes text from the engine (names and messages may come from a corrupted model) as UTF-8, with
// U+FFFD for invalid bytes, so it never raises UnicodeDecodeError.
py::str decode_utf8(const std::string& text);
// Views a NumPy array as a Tensor; the array stays alive as long as the tensor. Arrays that are not
// C-contiguous are copied once (`what` names the tensor in errors).
Tensor tensor_from_array(const py::array& array, const std::string& what);
// Wraps a Tensor as a NumPy array over the same memory; the array keeps the tensor's storage alive.
py::array array_from_tensor(const Tensor& t);

}  // namespace metalnn::python
