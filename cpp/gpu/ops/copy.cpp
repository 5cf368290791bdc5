// Data movement as strided copies (metal/copy.metal): reshapes, Dropout, Transpose, Slice, Expand, Tile, Concat
// and Split. Reshape-like ops copy (the plan gives their output its own arena slot).
#include "core/ops/slice.h"
#include "core/ops/transpose.h"
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void strided_copy(Lowering& L, const Node& n, int in, int out, const Shape& shape, const std::vector<int64_t>& in_strides,
                  int64_t in_offset, const std::vector<int64_t>& out_strides, int64_t out_offset) {
  CopyParams p{};
  const Shape s = shape.empty() ? Shape{1} : shape;
  p.rank = uint32_t(s.size());
  p.count = u32(n, shape_numel(s));
  p.in_offset = int32_t(in_offset);
  p.out_offset = u32(n, out_offset);
  fill_array(n, p.shape, s);
  fill_array(n, p.in_strides, shape.empty() ? std::vector<int64_t>{0} : in_strides);
  fill_array(n, p.out_strides, shape.empty() ? std::vector<int64_t>{0} : out_strides);
  L.dispatch(kernel_name("copy", "strided", width_suffix(L.storage(in))))
      .input(0, in).output(1, out).params(2, p).threads_1d(p.count);
}

void contiguous_copy(Lowering& L, const Node& n, int in, int out) {
  const int64_t count = shape_numel(L.shape(out));
  strided_copy(L, n, in, out, Shape{count}, {1}, 0, {1}, 0);
}

void lower_reshape(Lowering& L, const Node& n) { contiguous_copy(L, n, n.inputs[0], n.outputs[0]); }

// Inference keeps every element, so Dropout's optional mask is all true: one byte broadcast.
void lower_dropout(Lowering& L, const Node& n) {
  lower_reshape(L, n);
  if (n.outputs.size() < 2 || n.outputs[1] < 0) return;
  const int mask = n.outputs[1];
  CopyParams p{};
  p.rank = 1;
  p.count = u32(n, shape_numel(L.shape(mask)));
  p.shape[0] = p.count;
  p.out_strides[0] = 1;  // in_strides[0] = 0
  if (p.count == 0) return;
  const unsigned char one = 1;
  L.dispatch(kernel_name("copy", "strided", width_suffix(DType::Bool)))
      .buffer(0, L.upload_bytes(&one, 1)).output(1, mask).params(2, p).threads_1d(p.count);
}

void lower_transpose(Lowering& L, const Node& n) {
  const Shape& in = L.shape(n.inputs[0]);
  const std::vector<int64_t> perm = transpose_perm(n.attrs, int(in.size()));
  const std::vector<int64_t> row = shape_strides(in);
  std::vector<int64_t> strides;
  for (int64_t axis : perm) strides.push_back(row[size_t(axis)]);
  const Shape& out = L.shape(n.outputs[0]);
  strided_copy(L, n, n.inputs[0], n.outputs[0], out, strides, 0, shape_strides(out), 0);
}

void lower_slice(Lowering& L, const Node& n) {
  const Shape& in = L.shape(n.inputs[0]);
  const SliceWindow w = resolve_slice(in, L.constant_ints(n, 1), L.constant_ints(n, 2), L.constant_ints(n, 3),
                                      L.constant_ints(n, 4));
  const std::vector<int64_t> row = shape_strides(in);
  std::vector<int64_t> strides(in.size());
  int64_t offset = 0;
  for (size_t d = 0; d < in.size(); ++d) {
    offset += w.start[d] * row[d];
    strides[d] = w.out_shape[d] > 1 ? w.step[d] * row[d] : 0;
  }
  strided_copy(L, n, n.inputs[0], n.outputs[0], w.out_shape, strides, offset, shape_strides(w.out_shape), 0);
}

void lower_expand(Lowering& L, const Node& n) {
  const Shape& out = L.shape(n.outputs[0]);
  strided_copy(L, n, n.inputs[0], n.outputs[0], out, broadcast_strides(L.shape(n.inputs[0]), out), 0,
               shape_strides(out), 0);
}

// Tile's output read as [repeats[0], in[0], repeats[1], in[1], ...]: one strided copy reading the input
// with stride 0 along the repeat dims (extent-1 dims dropped, so rank 4 always fits in 8).
void lower_tile(Lowering& L, const Node& n) {
  const Shape& in = L.shape(n.inputs[0]);
  const std::vector<int64_t> repeats = L.constant_ints(n, 1);
  const std::vector<int64_t> row = shape_strides(in);
  Shape view;
  std::vector<int64_t> strides;
  for (size_t d = 0; d < in.size(); ++d) {
    if (repeats[d] != 1) view.push_back(repeats[d]), strides.push_back(0);
    if (in[d] != 1) view.push_back(in[d]), strides.push_back(row[d]);
  }
  if (shape_numel(view) == 0) return;
  strided_copy(L, n, n.inputs[0], n.outputs[0], view, strides, 0, shape_strides(view), 0);
}

namespace {
int positive_axis(const Node& n, int rank) {
  const int64_t axis = n.attrs.get_int("axis", 0);
  return int(axis < 0 ? axis + rank : axis);
}
}  // namespace

// Each input is copied into its band of the output; the copies write disjoint bands.
void lower_concat(Lowering& L, const Node& n) {
  const int out = n.outputs[0];
  const Shape& out_shape = L.shape(out);
  const int axis = positive_axis(n, int(out_shape.size()));
  const std::vector<int64_t> out_strides = shape_strides(out_shape);
  int64_t begin = 0;
  for (int in : n.inputs) {
    if (in < 0) continue;
    const Shape& s = L.shape(in);
    if (shape_numel(s) > 0) strided_copy(L, n, in, out, s, shape_strides(s), 0, out_strides, begin * out_strides[size_t(axis)]);
    begin += s[size_t(axis)];
  }
}

void lower_split(Lowering& L, const Node& n) {
  const int in = n.inputs[0];
  const Shape& in_shape = L.shape(in);
  const int axis = positive_axis(n, int(in_shape.size()));
  const std::vector<int64_t> in_strides = shape_strides(in_shape);
  int64_t begin = 0;
  for (int out : n.outputs) {
    if (out < 0) continue;
    const Shape& s = L.shape(out);
    if (shape_numel(s) > 0) strided_copy(L, n, in, out, s, in_strides, begin * in_strides[size_t(axis)], shape_strides(s), 0);
    begin += s[size_t(axis)];
  }
}

}  // namespace metalnn::gpu
