// GatherND, ScatterND and ScatterElements (metal/scatter_gather_nd.metal). Scatters first copy the data
// into the output, then apply the updates there. Indices are read in their own type.
#include "core/ops/scatter_gather_nd.h"
#include "gpu/ops/common.h"

namespace metalnn::gpu {

namespace {

const char* reduction_variant(ScatterReduction r) {
  switch (r) {
    case ScatterReduction::Add: return "add";
    case ScatterReduction::Mul: return "mul";
    case ScatterReduction::Max: return "max";
    case ScatterReduction::Min: return "min";
    default: return "none";
  }
}

IndexTupleParams tuple_params(const Node& n, const IndexTuples& t) {
  IndexTupleParams p{};
  p.tuples = u32(n, t.tuples);
  p.k = u32(n, t.k);
  p.slice = u32(n, t.slice);
  p.batch_stride = u32(n, t.batch_stride);
  fill_array(n, p.dims, t.dims);
  fill_array(n, p.strides, t.strides);
  return p;
}

// `op`'s kernel for the reduction and index type: a width kernel without reduction, else by dtype.
std::string scatter_kernel(Lowering& L, const Node& n, const char* op) {
  const ScatterReduction r = scatter_reduction(n);
  const std::string variant = std::string(reduction_variant(r)) + "_" + L.suffix(n.inputs[1]);
  const int data = n.inputs[0];
  return kernel_name(op, variant, r == ScatterReduction::None ? width_suffix(L.storage(data)) : L.suffix(data));
}

// The scatter kernel bound as (updates, indices, output, params), after the data is copied to the output.
template <class Params>
void dispatch_scatter(Lowering& L, const Node& n, const std::string& kernel, const Params& p) {
  contiguous_copy(L, n, n.inputs[0], n.outputs[0]);
  if (p.count == 0) return;
  L.dispatch(kernel).input(0, n.inputs[2]).input(1, n.inputs[1]).output(2, n.outputs[0]).params(3, p).threads_1d(p.count);
}

}  // namespace

void lower_gather_nd(Lowering& L, const Node& n) {
  const int data = n.inputs[0], indices = n.inputs[1];
  const IndexTuples t = index_tuples(L.shape(data), L.shape(indices), n.attrs.get_int("batch_dims", 0));
  IndexTupleParams p = tuple_params(n, t);
  p.count = u32(n, shape_numel(L.shape(n.outputs[0])));
  if (p.count == 0) return;
  // The kernel clamps out-of-range indices to each dim; an empty dim has nothing to clamp to.
  for (int64_t d : t.dims)
    if (d == 0)
      throw ShapeError(n.label() + ": index tuples address an empty dim of data '" + L.graph().value(data).name +
                       "' " + shape_str(L.shape(data)));
  L.dispatch(kernel_name("gather_nd", L.suffix(indices), width_suffix(L.storage(data))))
      .input(0, data).input(1, indices).output(2, n.outputs[0]).params(3, p).threads_1d(p.count);
}

void lower_scatter_nd(Lowering& L, const Node& n) {
  const IndexTuples t = index_tuples(L.shape(n.inputs[0]), L.shape(n.inputs[1]), 0);
  IndexTupleParams p = tuple_params(n, t);
  // Without a reduction every update element is independent; with one, a slice element's updates
  // combine in tuple order on one thread.
  p.count = u32(n, scatter_reduction(n) == ScatterReduction::None ? t.tuples * t.slice : (t.tuples ? t.slice : 0));
  dispatch_scatter(L, n, scatter_kernel(L, n, "scatter_nd"), p);
}

void lower_scatter_elements(Lowering& L, const Node& n) {
  const Shape& data = L.shape(n.inputs[0]);
  const Shape& updates = L.shape(n.inputs[2]);
  int64_t axis = n.attrs.get_int("axis", 0);
  if (axis < 0) axis += int64_t(data.size());
  ScatterElementsParams p{};
  const int64_t axis_len = updates[size_t(axis)];
  p.count = u32(n, axis_len == 0 ? 0 : shape_numel(updates) / axis_len);
  p.rank = uint32_t(data.size());
  p.axis = uint32_t(axis);
  p.data_axis_len = u32(n, data[size_t(axis)]);
  fill_array(n, p.shape, updates);
  fill_array(n, p.strides, shape_strides(updates));
  fill_array(n, p.data_strides, shape_strides(data));
  dispatch_scatter(L, n, scatter_kernel(L, n, "scatter_elements"), p);
}

}  // namespace metalnn::gpu
