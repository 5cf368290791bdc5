// The schema of every op in core/ops/op_list.h (see CONTRIBUTING.md for adding an op).
#include <algorithm>
#include <iterator>

#include "core/op_schema.h"
#include "core/ops/op_list.h"

namespace metalnn {

// Each infer function lives in cpp/core/ops/<family>.cpp.
#define METALNN_DECLARE_INFER(op, family, infer) void infer(InferContext&);
METALNN_OPS(METALNN_DECLARE_INFER)
#undef METALNN_DECLARE_INFER

namespace {
// In the order of op_list.h; looked up linearly (a few dozen entries, at load time only).
#define METALNN_SCHEMA_ENTRY(op, family, infer) {#op, infer},
constexpr OpSchema kSchemas[] = {METALNN_OPS(METALNN_SCHEMA_ENTRY)};
#undef METALNN_SCHEMA_ENTRY
}  // namespace

const OpSchema* find_schema(const std::string& op_type) {
  for (const OpSchema& s : kSchemas)
    if (op_type == s.op_type) return &s;
  return nullptr;
}

std::vector<std::string> supported_op_types() {
  std::vector<std::string> out;
  for (const OpSchema& s : kSchemas) out.emplace_back(s.op_type);
  return out;
}

int data_dependent_axis(const std::string& op_type) {
  if (op_type == "NonZero") return 1;            // [rank, count]
  if (op_type == "NonMaxSuppression") return 0;  // [count, 3]
  return -1;
}

}  // namespace metalnn
