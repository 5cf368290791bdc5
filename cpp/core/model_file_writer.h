// Serialises an optimised Graph as a .metalnn file (layout in core/model_file_format.h, docs/format.md).
#pragma once
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "core/graph.h"

namespace metalnn {

// Called after each chunk written with (bytes written, total bytes).
using WriteProgress = std::function<void(uint64_t done, uint64_t total)>;

// Writes only the values the graph references; blobs with the same memory are stored once.
void write_model_file(const Graph& g, std::ostream& out, const WriteProgress& progress = nullptr);
// Writes to `path` through a temporary file renamed into place, so a failure leaves no partial file.
void save_model_file(const Graph& g, const std::string& path, const WriteProgress& progress = nullptr);
std::string model_file_bytes(const Graph& g);

}  // namespace metalnn
