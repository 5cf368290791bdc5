#include "core/plan.h"

#include <algorithm>
#include <numeric>
#include <string>

namespace metalnn {

namespace {
size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }
}  // namespace

Plan Plan::build(const Graph& g, size_t alignment, const std::vector<PlanView>& views,
                 const std::vector<int>& elided) {
  const int nv = g.num_values();
  Plan plan;
  plan.offsets.assign(nv, kNotInArena);
  plan.first_step.assign(nv, -1);
  plan.last_step.assign(nv, -1);

  std::vector<char> external(nv, 0);
  for (int v : g.inputs()) external[v] = 1;
  for (int v : g.outputs()) external[v] = 1;

  const auto& nodes = g.nodes();
  for (int step = 0; step < static_cast<int>(nodes.size()); ++step) {
    for (int v : nodes[step].outputs)
      if (v >= 0 && !external[v] && !g.value(v).is_constant()) plan.first_step[v] = plan.last_step[v] = step;
    for (int v : nodes[step].inputs)
      if (v >= 0 && plan.first_step[v] >= 0) plan.last_step[v] = step;
  }

  for (int v : elided) {
    if (plan.first_step[v] < 0) continue;
    for (int out : nodes[plan.last_step[v]].outputs)
      if (out >= 0 && plan.first_step[out] >= 0) plan.first_step[out] = std::min(plan.first_step[out], plan.first_step[v]);
    plan.first_step[v] = plan.last_step[v] = -1;
  }

  // A base stays intact from its first view's writer to its last view's reader.
  std::vector<const PlanView*> view_of(nv, nullptr);
  for (const PlanView& view : views) {
    if (plan.first_step[view.value] < 0 || plan.first_step[view.base] < 0) continue;
    view_of[view.value] = &view;
    plan.first_step[view.base] = std::min(plan.first_step[view.base], plan.first_step[view.value]);
    plan.last_step[view.base] = std::max(plan.last_step[view.base], plan.last_step[view.value]);
  }

  std::vector<int> values;
  std::vector<size_t> sizes(nv, 0);
  for (int v = 0; v < nv; ++v) {
    if (plan.first_step[v] < 0 || view_of[v]) continue;
    const Value& val = g.value(v);
    sizes[v] = align_up(std::max<size_t>(1, static_cast<size_t>(shape_numel(val.shape)) * dtype_size(val.dtype)),
                        alignment);
    plan.unshared_bytes += sizes[v];
    values.push_back(v);
  }
  // Largest first, then earliest: the classic greedy that packs big long-lived tensors tightly.
  std::stable_sort(values.begin(), values.end(), [&](int a, int b) {
    return sizes[a] != sizes[b] ? sizes[a] > sizes[b] : plan.first_step[a] < plan.first_step[b];
  });

  std::vector<int> placed;
  for (int v : values) {
    // Intervals of already-placed tensors whose lifetime overlaps v's, sorted by offset.
    std::vector<std::pair<size_t, size_t>> busy;
    for (int p : placed)
      if (plan.first_step[p] <= plan.last_step[v] && plan.first_step[v] <= plan.last_step[p])
        busy.emplace_back(static_cast<size_t>(plan.offsets[p]), static_cast<size_t>(plan.offsets[p]) + sizes[p]);
    std::sort(busy.begin(), busy.end());
    size_t best = SIZE_MAX, best_gap = SIZE_MAX, cursor = 0;
    for (const auto& [begin, end] : busy) {
      if (begin >= cursor && begin - cursor >= sizes[v] && begin - cursor < best_gap) {
        best = cursor;
        best_gap = begin - cursor;
      }
      cursor = std::max(cursor, end);
    }
    if (best == SIZE_MAX) best = cursor;
    plan.offsets[v] = static_cast<int64_t>(best);
    plan.arena_bytes = std::max(plan.arena_bytes, best + sizes[v]);
    placed.push_back(v);
  }
  for (int v = 0; v < nv; ++v)
    if (view_of[v]) plan.offsets[v] = plan.offsets[view_of[v]->base] + static_cast<int64_t>(view_of[v]->offset);
  return plan;
}

std::vector<PlanView> concat_views(const Graph& g, size_t alignment, bool image_strides) {
  const int nv = g.num_values();
  // Values that may not become views: graph inputs and outputs, and values already a view or a base.
  std::vector<char> taken(nv, 0), produced(nv, 0);
  for (int v : g.inputs()) taken[v] = 1;
  for (int v : g.outputs()) taken[v] = 1;
  for (const Node& n : g.nodes())
    for (int v : n.outputs)
      if (v >= 0) produced[v] = 1;
  const std::vector<int> uses = g.use_counts();
  std::vector<PlanView> views;
  for (const Node& n : g.nodes()) {
    if (n.op_type != "Concat" || n.outputs.size() != 1 || n.outputs[0] < 0 || taken[n.outputs[0]]) continue;
    const int out = n.outputs[0];
    const Value& whole = g.value(out);
    const int rank = static_cast<int>(whole.shape.size());
    int64_t axis = n.attrs.get_int("axis", 0);
    if (axis < 0) axis += rank;
    if (whole.is_constant() || axis < 0 || axis >= rank) continue;
    const int64_t images = shape_numel(Shape(whole.shape.begin(), whole.shape.begin() + axis));
    if (images != 1 && !(image_strides && axis == 1)) continue;
    const size_t slab = static_cast<size_t>(shape_numel(Shape(whole.shape.begin() + axis + 1, whole.shape.end()))) *
                        dtype_size(whole.dtype);
    const size_t image_stride = images > 1 ? static_cast<size_t>(whole.shape[axis]) * slab : 0;
    size_t offset = 0;
    const size_t first_view = views.size();
    for (int v : n.inputs) {
      const size_t bytes = v >= 0 ? static_cast<size_t>(g.value(v).shape.at(axis)) * slab : 0;
      if (v >= 0 && !taken[v] && produced[v] && !g.value(v).is_constant() && g.value(v).dtype == whole.dtype &&
          bytes > 0 && offset % alignment == 0 && std::count(n.inputs.begin(), n.inputs.end(), v) == 1 &&
          (!image_stride || uses[v] == 1)) {
        views.push_back(PlanView{v, out, offset, image_stride});
        taken[v] = 1;
      }
      offset += bytes;
    }
    if (views.size() > first_view) taken[out] = 1;
  }
  return views;
}

std::vector<PlanView> reshape_views(const Graph& g, const std::vector<PlanView>& views) {
  const int nv = g.num_values();
  std::vector<char> external(nv, 0);
  for (int v : g.inputs()) external[v] = 1;
  for (int v : g.outputs()) external[v] = 1;
  // Where each value already lives inside another: its base and offset, and whether it is contiguous.
  std::vector<int> base_of(nv, -1);
  std::vector<size_t> offset_of(nv, 0);
  std::vector<char> strided(nv, 0);
  for (const PlanView& view : views) {
    base_of[view.value] = view.base;
    offset_of[view.value] = view.offset;
    strided[view.value] = view.image_stride != 0;
  }
  std::vector<PlanView> result;
  for (const Node& n : g.nodes()) {
    const std::string& op = n.op_type;
    if ((op != "Reshape" && op != "Flatten" && op != "Squeeze" && op != "Unsqueeze" && op != "Identity") ||
        n.inputs.empty() || n.outputs.size() != 1)
      continue;
    const int in = n.inputs[0], out = n.outputs[0];
    if (in < 0 || out < 0 || external[in] || external[out] || base_of[out] >= 0 || strided[in]) continue;
    const Value &a = g.value(in), &b = g.value(out);
    if (a.is_constant() || b.is_constant() || a.dtype != b.dtype || shape_numel(a.shape) != shape_numel(b.shape))
      continue;
    const int base = base_of[in] >= 0 ? base_of[in] : in;
    const size_t offset = base_of[in] >= 0 ? offset_of[in] : 0;
    result.push_back(PlanView{out, base, offset, 0});
    base_of[out] = base;
    offset_of[out] = offset;
  }
  return result;
}

}  // namespace metalnn
