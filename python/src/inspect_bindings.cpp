// What `metalnn info` and `metalnn profile` read: the optimised graph layer by layer (op, output
// shapes, parameters, FLOPs), the CPU thread count, and the per-step profiler.
#include <pybind11/stl.h>

#include <algorithm>
#include <set>

#include "engine/model.h"
#include "core/profiler.h"
#include "cpu/thread_pool.h"
#include "numpy_tensor.h"

namespace py = pybind11;
using namespace metalnn;

namespace {

py::dict describe_layer(const Graph& g, const Node& n, std::set<int>& counted) {
  py::list shapes, dtypes;
  for (int v : n.outputs) {
    if (v < 0) continue;
    shapes.append(py::tuple(py::cast(g.value(v).shape)));
    dtypes.append(dtype_name(g.value(v).dtype));
  }
  // Parameters: the constant inputs; a constant shared by several layers counts at its first reader.
  int64_t params = 0, param_bytes = 0;
  for (int v : n.inputs) {
    if (v < 0 || !g.value(v).is_constant() || !counted.insert(v).second) continue;
    params += g.value(v).constant.numel();
    param_bytes += static_cast<int64_t>(g.value(v).constant.nbytes());
  }
  py::dict layer;
  layer["name"] = python::decode_utf8(n.name);
  layer["op"] = python::decode_utf8(n.op_type);
  layer["output_shapes"] = shapes;
  layer["output_dtypes"] = dtypes;
  layer["params"] = params;
  layer["param_bytes"] = param_bytes;
  // Not sized: a layer of a model with free dims, before any input shape is known.
  auto sized_value = [&](int v) {
    const Value& val = g.value(v);
    return v < 0 || (val.has_shape && std::none_of(val.shape.begin(), val.shape.end(), [](int64_t d) { return d < 0; }));
  };
  const bool sized = std::all_of(n.inputs.begin(), n.inputs.end(), sized_value) &&
                     std::all_of(n.outputs.begin(), n.outputs.end(), sized_value);
  layer["flops"] = sized ? node_flops(g, n) : 0.0;
  return layer;
}

}  // namespace

void bind_inspect(py::module_& m) {
  m.def(
      "layers",
      [](const Model& model) {
        const Graph g = model.latest_graph();
        std::set<int> counted;
        py::list out;
        for (const Node& n : g.nodes()) out.append(describe_layer(g, n, counted));
        return out;
      },
      py::arg("model"), "The optimised graph's layers in run order, at the most recently used input shapes.");

  m.def("set_num_threads", &cpu::ThreadPool::set_default_threads, py::arg("threads"),
        "Sets the cpu device's default thread count for runs that start afterwards.");
  m.def("get_num_threads", &cpu::ThreadPool::default_threads, "The cpu device's default thread count.");

  m.def(
      "profiler_start",
      [] {
        Profiler::global().clear();
        Profiler::global().set_enabled(true);
      },
      "Records every step of executables compiled from now on, at each of their runs (cpu device).");
  m.def(
      "profiler_stop",
      [] {
        Profiler& profiler = Profiler::global();
        profiler.set_enabled(false);
        py::list out;
        for (const StepProfile& s : profiler.steps()) {
          if (s.seconds.empty()) continue;  // compiled but never run (another input shape)
          py::dict step;
          step["label"] = python::decode_utf8(s.label);
          step["op"] = s.op_type;
          step["flops"] = s.flops;
          step["seconds"] = s.seconds;
          out.append(step);
        }
        profiler.clear();
        return out;
      },
      "Stops recording; returns the steps that ran, each with its time per run.");
}
