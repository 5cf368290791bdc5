// Reads a .metalnn file into a Graph. Every offset, length, count, dtype, rank and shape is checked against
// the bytes before use; anything wrong raises ModelError saying what and where.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/graph.h"

namespace metalnn {

// Parses an image that stays alive and unchanged while `owner` lives; constant tensors point into it
// (no copy) and hold `owner`. `data` must be 64-byte aligned; `source` names the image in errors.
Graph read_model_file(const uint8_t* data, size_t size, std::shared_ptr<const void> owner, const std::string& source);
// Memory-maps the file; the weights are used in place from the mapping.
Graph load_model_file(const std::string& path);
// Copies the block once into aligned storage, so the caller's memory may be freed afterwards.
Graph load_model_memory(const void* data, size_t size);
// True when the block starts with the .metalnn magic.
bool is_model_file(const void* data, size_t size);

}  // namespace metalnn
