// Index geometry of GatherND, ScatterND and ScatterElements, shared by the schemas and the kernels.
#pragma once
#include <vector>

#include "core/graph.h"

namespace metalnn {

// GatherND / ScatterND: the indices are `batch` x `tuples` tuples of k coordinates into data dims
// [b, b + k); each tuple addresses a `slice` of data elements (data dims b + k onward).
struct IndexTuples {
  int64_t batch = 1, tuples = 0, k = 0, slice = 1;
  int64_t batch_stride = 0;            // data elements per batch entry
  std::vector<int64_t> dims, strides;  // extent and element stride of each addressed data dim
};

// data and indices shapes already validated by the schema.
IndexTuples index_tuples(const Shape& data, const Shape& indices, int64_t batch_dims);

// ScatterND / ScatterElements `reduction` attribute.
enum class ScatterReduction { None = 0, Add, Mul, Max, Min };
ScatterReduction scatter_reduction(const Node& n);

}  // namespace metalnn
