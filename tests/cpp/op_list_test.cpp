// core/ops/op_list.h is the one list of ops: the schema registry expands it, and the CPU kernel and
// GPU lowering tables must name exactly the same op types.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/op_schema.h"
#include "core/ops/op_list.h"
#include "cpu/ops/registry.h"
#include "gpu/lowering.h"

namespace metalnn {
namespace {

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::string> op_list() {
#define METALNN_OP_NAME(op, family, infer) #op,
  return sorted({METALNN_OPS(METALNN_OP_NAME)});
#undef METALNN_OP_NAME
}

TEST(OpList, HasNoDuplicates) {
  std::vector<std::string> ops = op_list();
  EXPECT_EQ(std::adjacent_find(ops.begin(), ops.end()), ops.end());
}

TEST(OpList, SchemaRegistryIsTheList) { EXPECT_EQ(sorted(supported_op_types()), op_list()); }

TEST(OpList, CpuKernelsCoverExactlyTheList) { EXPECT_EQ(sorted(cpu::kernel_op_types()), op_list()); }

TEST(OpList, GpuLoweringsCoverExactlyTheList) { EXPECT_EQ(sorted(gpu::lowered_op_types()), op_list()); }

}  // namespace
}  // namespace metalnn
