// libFuzzer target over the .metalnn reader. Any input must either load or raise metalnn::Error; a
// crash, sanitizer report, leak or allocation over -malloc_limit_mb is a bug. Inputs that load must
// survive a write/read round trip unchanged, which also exercises the writer on odd graphs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "core/model_file_reader.h"
#include "core/model_file_writer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  metalnn::Graph g;
  try {
    g = metalnn::load_model_memory(data, size);
  } catch (const metalnn::Error&) {
    return 0;
  }
  std::string once = metalnn::model_file_bytes(g);
  std::string twice = metalnn::model_file_bytes(metalnn::load_model_memory(once.data(), once.size()));
  if (once != twice) std::abort();  // the writer's output must be a fixed point of read + write
  return 0;
}
