#include "core/plan.h"

#include <algorithm>
#include <numeric>

namespace metalnn {

namespace {
size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }
}  // namespace

Plan Plan::build(const Graph& g, size_t alignment) {
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

  std::vector<int> values;
  std::vector<size_t> sizes(nv, 0);
  for (int v = 0; v < nv; ++v) {
    if (plan.first_step[v] < 0) continue;
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
  return plan;
}

}  // namespace metalnn
