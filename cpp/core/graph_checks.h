// What the rest of the engine takes for granted about a graph's structure, checked once for every
// graph that comes from outside (a model file or the ONNX importer) before anything writes a buffer.
#pragma once
#include <string>

#include "core/graph.h"

namespace metalnn {

// Throws ModelError starting with `source` when a value has two producers, a node writes a constant
// or a graph input, a graph input is listed twice or lacks a dtype or shape, the graph has no outputs,
// or an output is never produced.
void check_graph_structure(const Graph& g, const std::string& source);

}  // namespace metalnn
