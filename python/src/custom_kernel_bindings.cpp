// metalnn.metal_kernel's native half: a user's Metal library on `metal` or `metal-sim` and running
// one of its kernels on NumPy arrays (python/metalnn/metal_kernel.py prepares both).
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <array>

#include "core/error.h"
#include "gpu/custom_library.h"

namespace py = pybind11;

void bind_custom_kernel(py::module_& m) {
  using metalnn::gpu::CustomLibrary;
  py::class_<CustomLibrary>(m, "_CustomLibrary")
      .def(py::init<const std::string&, const std::string&, const std::string&>(), py::arg("device"),
           py::arg("source"), py::arg("sim_library"))
      .def_property_readonly("device", &CustomLibrary::device_name)
      .def("run", [](CustomLibrary& library, const std::string& kernel, const py::list& args,
                     std::array<uint32_t, 3> grid, std::array<uint32_t, 3> threadgroup) {
        // Each arg: (C-contiguous array, binding index, by_value, written).
        std::vector<CustomLibrary::Arg> native;
        std::vector<py::array> keep;
        for (py::handle item : args) {
          auto t = item.cast<py::tuple>();
          auto array = t[0].cast<py::array>();
          const bool written = t[3].cast<bool>();
          if (!(array.flags() & py::array::c_style)) throw metalnn::Error("custom kernel: arrays must be C-contiguous");
          if (written && !array.writeable()) throw metalnn::Error("custom kernel: an output array is read-only");
          native.push_back({const_cast<void*>(array.data()), size_t(array.nbytes()), t[1].cast<uint32_t>(),
                            t[2].cast<bool>(), written});
          keep.push_back(array);
        }
        py::gil_scoped_release release;
        library.run(kernel, native, {grid[0], grid[1], grid[2]}, {threadgroup[0], threadgroup[1], threadgroup[2]});
      }, py::arg("kernel"), py::arg("args"), py::arg("grid"), py::arg("threadgroup"),
         "Runs `kernel` over `grid` threads in threadgroups of `threadgroup` on the (array, index, by_value, "
         "written) arguments, and waits.");
}
