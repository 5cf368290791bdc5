// .metalnn files from Python: save a compiled Model's optimised graph, load one through the C++ reader.
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>

#include "core/alibaba_mnn.h"
#include "core/error.h"
#include "core/model_file_reader.h"
#include "core/model_file_writer.h"
#include "engine/model.h"
#include "numpy_tensor.h"

namespace py = pybind11;
using namespace metalnn;

void bind_model_file(py::module_& m) {
  m.def(
      "load_model_file",
      [](const std::string& path, const std::string& device, const std::string& precision, int threads) {
        py::gil_scoped_release release;
        return std::make_shared<Model>(load_model_file(path), CompileOptions{device, precision, threads});
      },
      py::arg("path"), py::arg("device"), py::arg("precision"), py::arg("threads") = 0,
      "Memory-maps a .metalnn file and compiles it; weights stay in the mapping.");

  m.def(
      "load_model_bytes",
      [](const py::buffer& data, const std::string& device, const std::string& precision, int threads) {
        py::buffer_info info = data.request();
        if (info.ndim != 1 || info.itemsize != 1 || info.strides[0] != 1)
          throw py::value_error("a .metalnn image must be a contiguous bytes-like object");
        py::gil_scoped_release release;
        Graph g = load_model_memory(info.ptr, static_cast<size_t>(info.size));
        return std::make_shared<Model>(std::move(g), CompileOptions{device, precision, threads});
      },
      py::arg("data"), py::arg("device"), py::arg("precision"), py::arg("threads") = 0,
      "Reads a .metalnn image from a bytes-like object (copied once) and compiles it.");

  m.def(
      "model_format",
      [](const py::buffer& data) {
        py::buffer_info info = data.request();
        const auto* bytes = static_cast<const uint8_t*>(info.ptr);
        const size_t size = static_cast<size_t>(info.size * info.itemsize);
        if (is_model_file(bytes, size)) return "metalnn";
        return looks_like_alibaba_mnn(bytes, size) ? "mnn" : "unknown";
      },
      py::arg("data"), "What the bytes hold by their layout: \"metalnn\", \"mnn\" (Alibaba MNN) or \"unknown\".");

  m.def(
      "save_model_file",
      [](const Model& model, const std::string& path, const std::function<void(uint64_t, uint64_t)>& progress) {
        if (model.weights_released())
          throw ModelError("the model's weights were released once packed; save a model compiled from its source");
        WriteProgress report;
        if (progress)
          report = [&progress](uint64_t done, uint64_t total) {
            py::gil_scoped_acquire acquire;
            progress(done, total);
          };
        py::gil_scoped_release release;
        save_model_file(model.optimized_graph(), path, report);
      },
      py::arg("model"), py::arg("path"), py::arg("progress") = nullptr,
      "Writes the model's optimised graph and weights as a .metalnn file; progress(done, total) in bytes.");

  m.def(
      "_constant_addresses",
      [](const Model& model) {
        py::list out;
        const Graph& g = model.optimized_graph();
        for (int v = 0; v < g.num_values(); ++v) {
          const Value& val = g.value(v);
          if (val.is_constant())
            out.append(py::make_tuple(python::decode_utf8(val.name), reinterpret_cast<uintptr_t>(val.constant.raw()), val.constant.nbytes()));
        }
        return out;
      },
      "Test hook: (name, address, nbytes) of every constant of the optimised graph.");
}
