// The `metalnn._native` extension: graph building for the importer, compiled models, devices, and
// the translation of engine exceptions into the Python classes of metalnn.errors.
#include <pybind11/stl.h>

#include "core/error_kind.h"
#include "engine/devices.h"
#include "engine/model.h"
#include "core/graph_checks.h"
#include "core/op_schema.h"
#include "numpy_tensor.h"

namespace py = pybind11;
using namespace metalnn;
using python::array_from_tensor;
using python::tensor_from_array;

namespace {

// `what` names the attribute and its node, for errors: "Conv 'conv1': attribute 'pads'".
Attribute attribute_from_python(const std::string& what, const py::handle& v) {
  if (py::isinstance<py::bool_>(v) || py::isinstance<py::int_>(v)) return Attribute::make_int(v.cast<int64_t>());
  if (py::isinstance<py::float_>(v)) return Attribute::make_float(v.cast<float>());
  if (py::isinstance<py::str>(v)) return Attribute::make_string(v.cast<std::string>());
  if (py::isinstance<py::bytes>(v)) return Attribute::make_string(v.cast<std::string>());
  if (py::isinstance<py::array>(v)) return Attribute::make_tensor(tensor_from_array(v.cast<py::array>(), what));
  if (py::isinstance<Graph>(v)) return Attribute::make_graph(std::make_shared<const Graph>(v.cast<const Graph&>()));
  if (py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v)) {
    py::sequence seq = v.cast<py::sequence>();
    bool all_int = true, all_str = seq.size() > 0;
    for (py::handle item : seq) {
      all_int &= py::isinstance<py::int_>(item);
      all_str &= py::isinstance<py::str>(item) || py::isinstance<py::bytes>(item);
    }
    if (all_str) {
      Attribute a;
      a.kind = Attribute::Kind::Strings;
      for (py::handle item : seq) a.strings.push_back(item.cast<std::string>());
      return a;
    }
    if (all_int) return Attribute::make_ints(v.cast<std::vector<int64_t>>());
    return Attribute::make_floats(v.cast<std::vector<float>>());
  }
  throw ModelError(what + " has an unsupported type (" + std::string(py::str(v.get_type().attr("__name__"))) + ")");
}

void register_exceptions() {
  // Released deliberately never: a static py::object would be destroyed after the interpreter.
  static py::handle errors = py::module_::import("metalnn.errors").release();
  py::register_exception_translator([](std::exception_ptr p) {
    auto raise = [](const char* cls, const std::exception& e) {
      PyErr_SetObject(errors.attr(cls).ptr(), python::decode_utf8(e.what()).ptr());
    };
    try {
      if (p) std::rethrow_exception(p);
    } catch (const KernelSourceError& e) {
      raise("KernelSourceError", e);
    } catch (const Error& e) {
      raise(error_class_name(error_kind(e)), e);
    } catch (const std::bad_alloc&) {  // an allocation no layer above could name
      PyErr_SetString(errors.attr("AllocationError").ptr(), "out of memory (std::bad_alloc)");
    }
  });
}

py::list tensor_infos(const std::vector<TensorInfo>& infos) {
  py::list out;
  for (const TensorInfo& t : infos)
    out.append(py::make_tuple(python::decode_utf8(t.name), py::tuple(py::cast(t.shape)), python::numpy_dtype(t.dtype)));
  return out;
}

}  // namespace

void bind_model_file(py::module_& m);  // model_file_bindings.cpp
void bind_inspect(py::module_& m);     // inspect_bindings.cpp
void bind_gpu(py::module_& m);  // gpu_bindings.cpp
void bind_custom_kernel(py::module_& m);  // custom_kernel_bindings.cpp

PYBIND11_MODULE(_native, m) {
  m.doc() = "metalnn native core";
  register_exceptions();

  py::class_<Graph>(m, "Graph")
      .def(py::init<>())
      .def("add_input",
           [](Graph& g, const std::string& name, int onnx_type, const std::vector<int64_t>& shape) {
             Value& v = g.value(g.add_value(name, dtype_from_onnx(onnx_type)));
             v.shape = shape;
             v.has_shape = true;
             g.inputs().push_back(g.find_value(name));
           })
      .def("add_subgraph_input",
           [](Graph& g, const std::string& name) { g.inputs().push_back(g.value_id(name)); },
           "An input of an If branch or Loop body: bound to the node's value when the node is resolved.")
      .def("add_initializer",
           [](Graph& g, const std::string& name, const py::array& data) {
             g.add_constant(name, tensor_from_array(data, "initializer '" + name + "'"));
           })
      .def("add_node",
           [](Graph& g, const std::string& op_type, const std::string& name, const std::vector<std::string>& inputs,
              const std::vector<std::string>& outputs, const py::dict& attrs) {
             Node n;
             n.op_type = op_type;
             n.name = name;
             for (const std::string& s : inputs) n.inputs.push_back(s.empty() ? -1 : g.value_id(s));
             for (const std::string& s : outputs) n.outputs.push_back(s.empty() ? -1 : g.value_id(s));
             for (auto item : attrs) {
               std::string key = item.first.cast<std::string>();
               n.attrs.set(key, attribute_from_python(op_type + " '" + name + "': attribute '" + key + "'", item.second));
             }
             g.add_node(std::move(n));
           })
      .def("add_output", [](Graph& g, const std::string& name, int onnx_type) {
        int id = g.find_value(name);
        if (id < 0) throw ModelError("graph output '" + name + "' is never produced");
        // The declared dtype stands until inference sets it; it names the output of a model whose
        // output shapes are only known per input shape.
        if (onnx_type != 0 && g.value(id).dtype == DType::Undefined) {
          try {
            g.value(id).dtype = dtype_from_onnx(onnx_type);
          } catch (const Error&) {
          }
        }
        g.outputs().push_back(id);
      }, py::arg("name"), py::arg("onnx_type") = 0);

  py::class_<Model, std::shared_ptr<Model>>(m, "Model")
      // Takes the graph's contents, leaving it empty: the weights then have one owner, and folding
      // them at load frees each original as soon as its folded form exists.
      // With release_weights, a static cpu model frees each weight its kernels pack (see weights_released).
      .def(py::init([](Graph& g, const std::string& device, const std::string& precision, int threads,
                       bool release_weights) {
             check_graph_structure(g, "model");
             Graph taken = std::move(g);
             g = Graph();
             py::gil_scoped_release release;
             return std::make_shared<Model>(std::move(taken), CompileOptions{device, precision, threads},
                                            release_weights);
           }),
           py::arg("graph"), py::arg("device"), py::arg("precision"), py::arg("threads") = 0,
           py::arg("release_weights") = false)
      .def_property_readonly("weights_released", &Model::weights_released,
                             "Whether the packed weights' originals were freed (no save or recompile from this model).")
      .def("imported_graph", &Model::imported_graph,
           "A copy of the graph as loaded, its weights folded and shared: what a new Model compiles from.")
      .def_property_readonly("inputs", [](const Model& m) { return tensor_infos(m.inputs()); })
      .def_property_readonly("outputs", [](const Model& m) { return tensor_infos(m.outputs()); })
      .def_property_readonly("device", &Model::device)
      .def_property_readonly("precision", &Model::precision)
      .def_property_readonly("arena_bytes", &Model::arena_bytes)
      .def("run", [](Model& m, const py::list& arrays) {
        // Dtypes and shapes are checked on views first: a wrong array is never copied.
        std::vector<py::array> given;
        std::vector<Tensor> inputs;
        for (size_t i = 0; i < arrays.size(); ++i) {
          std::string what = i < m.inputs().size() ? "input '" + m.inputs()[i].name + "'" : "input";
          given.push_back(arrays[i].cast<py::array>());
          inputs.push_back(python::array_view(given.back(), what,
                                              i < m.inputs().size() ? m.inputs()[i].dtype : DType::Undefined));
        }
        m.validate(inputs);
        for (size_t i = 0; i < given.size(); ++i)
          inputs[i] = tensor_from_array(given[i], "input '" + m.inputs()[i].name + "'");
        std::vector<Tensor> outputs;
        {
          py::gil_scoped_release release;
          outputs = m.run(inputs);
        }
        py::list result;
        for (const Tensor& t : outputs) result.append(array_from_tensor(t));
        return result;
      })
      .def("prepare", [](Model& m, const std::vector<Shape>& shapes) {
        py::gil_scoped_release release;
        m.prepare(shapes);
      }, py::arg("shapes"), "Compiles the specialisation for these input shapes (inputs order) now.")
      .def_property("cache_capacity", &Model::cache_capacity, &Model::set_cache_capacity,
                    "The most input-shape specialisations kept; the least recently used beyond it is freed.")
      .def_property_readonly("has_free_dims", &Model::has_free_dims)
      .def("cached", [](const Model& m) {
        py::list out;
        for (const Model::CachedSpecialization& c : m.cached())
          out.append(py::make_tuple(py::cast(c.shapes), c.arena_bytes, c.runs));
        return out;
      }, "The cached specialisations, most recently used first: (input shapes, arena bytes, runs).");

  m.def("devices", &available_devices, "Devices usable on this machine, best first.");
  m.def("unavailable_devices", &unavailable_devices, "Each device missing on this machine, with the reason.");
  m.def("supported_ops", &supported_op_types, "Op types the engine implements.");
  bind_model_file(m);
  bind_inspect(m);
  bind_gpu(m);
  bind_custom_kernel(m);
}
