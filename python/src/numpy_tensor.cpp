#include "numpy_tensor.h"

#include "core/error.h"
#include "core/sizes.h"

namespace metalnn::python {

DType dtype_of(const py::dtype& dt) {
  if (dt.is(py::dtype::of<float>())) return DType::Float32;
  if (dt.is(py::dtype::of<int64_t>())) return DType::Int64;
  if (dt.is(py::dtype::of<int32_t>())) return DType::Int32;
  if (dt.is(py::dtype::of<uint8_t>())) return DType::UInt8;
  if (dt.is(py::dtype::of<int8_t>())) return DType::Int8;
  if (dt.is(py::dtype::of<bool>())) return DType::Bool;
  if (dt.is(py::dtype("float16"))) return DType::Float16;
  return DType::Undefined;
}

py::dtype numpy_dtype(DType t) {
  switch (t) {
    case DType::Float32: return py::dtype::of<float>();
    case DType::Int64: return py::dtype::of<int64_t>();
    case DType::Int32: return py::dtype::of<int32_t>();
    case DType::UInt8: return py::dtype::of<uint8_t>();
    case DType::Int8: return py::dtype::of<int8_t>();
    case DType::Bool: return py::dtype::of<bool>();
    case DType::Float16: return py::dtype("float16");
    case DType::Undefined: break;
  }
  throw DtypeError("dtype " + dtype_name(t) + " has no NumPy equivalent");
}

namespace {
// Keeps a Python object alive from C++; released with the GIL held since the last owner may be a
// kernel thread or a Model destroyed with the GIL released.
std::shared_ptr<const void> hold_python_object(py::object obj) {
  auto* held = new py::object(std::move(obj));
  return std::shared_ptr<const void>(held, [](const void* p) {
    py::gil_scoped_acquire gil;
    delete static_cast<const py::object*>(p);
  });
}
}  // namespace

Tensor array_view(const py::array& array, const std::string& what, DType expected) {
  DType dtype = dtype_of(array.dtype());
  if (dtype == DType::Undefined)
    throw DtypeError(what + " has dtype " + std::string(py::str(array.dtype())) +
                     (expected == DType::Undefined ? std::string(", which the engine does not store")
                                                   : ", expected " + dtype_name(expected)));
  Shape shape(array.shape(), array.shape() + array.ndim());
  checked_nbytes(dtype, shape, what);
  return Tensor(dtype, std::move(shape), nullptr);
}

Tensor tensor_from_array(const py::array& array, const std::string& what) {
  const Tensor view = array_view(array, what);
  py::array contiguous = array;
  if (!(array.flags() & py::array::c_style)) {
    // ensure() returns a null handle (and clears NumPy's MemoryError) when the copy cannot be allocated.
    contiguous = py::array::ensure(array, py::array::c_style);
    if (!contiguous)
      throw AllocationError(what + ": cannot allocate " + std::to_string(view.nbytes()) +
                            " bytes for a C-contiguous copy of " + dtype_name(view.dtype()) + " " + shape_str(view.shape()));
  }
  Shape shape(contiguous.shape(), contiguous.shape() + contiguous.ndim());
  void* data = const_cast<void*>(contiguous.data());
  return Tensor(view.dtype(), std::move(shape), data, hold_python_object(contiguous));
}

py::str decode_utf8(const std::string& text) {
  PyObject* s = PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "replace");
  if (!s) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(s);
}

py::array array_from_tensor(const Tensor& t) {
  // The capsule owns a reference to the tensor's storage; NumPy's base keeps the capsule alive.
  auto* keep = new std::shared_ptr<const void>(t.owner());
  py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<const void>*>(p); });
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  return py::array(numpy_dtype(t.dtype()), shape, t.raw(), base);
}

}  // namespace metalnn::python
