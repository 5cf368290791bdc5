#include "cpu/cpu_executable.h"

#include <algorithm>
#include <cstring>
#include <new>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <chrono>

#include "core/profiler.h"
#include "cpu/blas.h"
#include "cpu/depthwise_block.h"
#include "cpu/grouped_block.h"

namespace metalnn::cpu {

CpuExecutable::CpuExecutable(Graph g, int threads)
    : graph_(fuse_grouped_blocks(fuse_depthwise_blocks(std::move(g)))), threads_(threads) {
  static const bool blas_threads_set = [] {
    set_blas_threads(1);  // GEMMs are split over the pool instead (cpu/parallel_gemm.h)
    return true;
  }();
  (void)blas_threads_set;
  slots_.resize(graph_.num_values());
  for (int v = 0; v < graph_.num_values(); ++v)
    if (graph_.value(v).is_constant()) slots_[v] = graph_.value(v).constant;
  const std::vector<Node>& nodes = graph_.nodes();
  produced_.assign(graph_.num_values(), 0);
  std::vector<KernelFactory> makers;
  for (const Node& n : nodes) {
    for (int v : n.outputs)
      if (v >= 0) produced_[v] = 1;
    KernelFactory make = find_kernel(n.op_type);
    if (!make) throw UnsupportedOpError(n.label() + ": the cpu device has no kernel for " + n.op_type);
    makers.push_back(make);
    steps_.push_back(Step{n.inputs, n.outputs, nullptr});
  }
  // Kernels reading the largest weights are built first: a weight's packed copy then appears while
  // few others exist (a Winograd copy is four times its original), and each original is freed as
  // soon as its last reader is built. The arena comes last, after the packing peak.
  std::vector<size_t> order(nodes.size());
  std::vector<size_t> weight_bytes(nodes.size(), 0);
  for (size_t i = 0; i < nodes.size(); ++i) {
    order[i] = i;
    for (int v : nodes[i].inputs)
      if (v >= 0 && graph_.value(v).is_constant()) weight_bytes[i] += graph_.value(v).constant.nbytes();
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return weight_bytes[a] > weight_bytes[b]; });
  // Readers of each constant still to be built; a graph output is read at every run.
  std::vector<int> pending = graph_.use_counts();
  std::vector<char> read(graph_.num_values(), 0);
  for (int v : graph_.outputs()) read[v] = 1;
  // Constants no node reads any more (the originals of weights a pass folded, such as a convolution's
  // weight before its BatchNorm was folded in) would otherwise stay resident as long as the executable.
  bool released_unread = false;
  for (int v = 0; v < graph_.num_values(); ++v)
    if (pending[v] == 0 && !read[v] && graph_.value(v).is_constant()) released_unread |= release_constant(v);
  if (released_unread) return_free_memory();
  for (size_t s : order) {
    const Node& n = nodes[s];
    try {
      steps_[s].kernel = makers[s](graph_, n);
    } catch (const std::bad_alloc&) {  // a kernel's tables or packed weights; sized tables say more themselves
      throw AllocationError(n.label() + ": out of memory preparing the kernel");
    }
    bool released = false;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const int v = n.inputs[i];
      if (v < 0 || !graph_.value(v).is_constant()) continue;
      if (steps_[s].kernel->reads_constant(i)) read[v] = 1;
      if (--pending[v] == 0 && !read[v]) released |= release_constant(v);
    }
    if (released) return_free_memory();
  }
  // A kernel may take over the only reader of its output (a stem convolution its MaxPool, a Transpose
  // to channels-last its LayerNorm).
  std::vector<int> elided;
  const std::vector<int> uses = graph_.use_counts();
  std::vector<int> reader(graph_.num_values(), -1);
  for (size_t s = 0; s < nodes.size(); ++s)
    for (int v : nodes[s].inputs)
      if (v >= 0) reader[v] = static_cast<int>(s);
  for (size_t s = 0; s < nodes.size(); ++s) {
    if (!steps_[s].kernel || nodes[s].outputs.size() != 1) continue;
    const int v = nodes[s].outputs[0];
    if (v < 0 || uses[v] != 1 || reader[v] < 0) continue;
    // The reader's other inputs, if any, are constants the kernel may copy (a LayerNorm's scale).
    const Node& r = nodes[reader[v]];
    if (r.inputs[0] != v || std::any_of(r.inputs.begin() + 1, r.inputs.end(),
                                        [&](int i) { return i >= 0 && !graph_.value(i).is_constant(); }))
      continue;
    Step& next = steps_[reader[v]];
    if (!steps_[s].kernel->absorb_consumer(graph_, nodes[reader[v]])) continue;
    steps_[s].outputs = next.outputs;
    next.kernel.reset();
    elided.push_back(v);
  }
  // A view with an image stride is kept when its producer writes that way.
  std::vector<PlanView> views = concat_views(graph_, 64, true);
  const std::vector<int> producers = graph_.producers();
  views.erase(std::remove_if(views.begin(), views.end(),
                             [&](const PlanView& view) {
                               if (view.image_stride == 0) return false;
                               const Step& step = steps_[producers[view.value]];
                               const size_t at = std::find(step.outputs.begin(), step.outputs.end(), view.value) -
                                                 step.outputs.begin();
                               const size_t elem = dtype_size(graph_.value(view.value).dtype);
                               return !step.kernel || at == step.outputs.size() ||
                                      !step.kernel->write_image_stride(at, int64_t(view.image_stride / elem));
                             }),
              views.end());
  // A Reshape's output shares its input's bytes; the copy kernel then finds nothing to move.
  const std::vector<PlanView> reshapes = reshape_views(graph_, views);
  views.insert(views.end(), reshapes.begin(), reshapes.end());
  plan_ = Plan::build(graph_, 64, views, elided);
  arena_ = Tensor::empty(DType::UInt8, {static_cast<int64_t>(plan_.arena_bytes)}, "the activation arena");
  for (int v = 0; v < graph_.num_values(); ++v) {
    const Value& val = graph_.value(v);
    if (!val.is_constant() && plan_.in_arena(v))
      slots_[v] = Tensor(val.dtype, val.shape, arena_.data<uint8_t>() + plan_.offsets[v], arena_.owner());
  }
  Profiler& profiler = Profiler::global();
  if (profiler.enabled()) profile_first_step_ = profiler.add_executable(graph_, plan_.arena_bytes);
}

bool CpuExecutable::release_constant(int v) {
  Value& val = graph_.value(v);
  if (val.constant.raw() == nullptr) return false;
  val.constant = Tensor(val.constant.dtype(), val.constant.shape(), nullptr);
  slots_[v] = val.constant;
  return true;
}

void CpuExecutable::return_free_memory() {
#if defined(__GLIBC__)
  // Freed weights and packing scratch can sit between live heap blocks (glibc raises its mmap
  // threshold after large frees), where they stay resident unless handed back explicitly.
  malloc_trim(0);
#endif
}

std::vector<Tensor> CpuExecutable::run(const std::vector<Tensor>& inputs) {
  for (size_t i = 0; i < inputs.size(); ++i) slots_[graph_.inputs()[i]] = inputs[i];
  std::vector<Tensor> outputs;
  outputs.reserve(graph_.outputs().size());
  for (int v : graph_.outputs()) {
    const Value& val = graph_.value(v);
    outputs.push_back(Tensor::empty(val.dtype, val.shape, "output '" + val.name + "'"));
  }
  // Outputs produced by a node are written in place; the rest (inputs or constants) are copied below.
  for (size_t i = 0; i < outputs.size(); ++i)
    if (produced_[graph_.outputs()[i]]) slots_[graph_.outputs()[i]] = outputs[i];

  std::vector<const Tensor*> in_ptrs;
  std::vector<Tensor*> out_ptrs;
  ThreadPool& pool = threads_ > 0 ? ThreadPool::shared(threads_) : ThreadPool::global();
  using Clock = std::chrono::steady_clock;
  for (size_t i = 0; i < steps_.size(); ++i) {
    Step& step = steps_[i];
    if (!step.kernel) {  // run by an earlier step
      if (profile_first_step_ != kNotProfiled) Profiler::global().record(profile_first_step_ + i, 0.0);
      continue;
    }
    in_ptrs.clear();
    out_ptrs.clear();
    for (int v : step.inputs) in_ptrs.push_back(v >= 0 ? &slots_[v] : nullptr);
    for (int v : step.outputs) out_ptrs.push_back(v >= 0 ? &slots_[v] : nullptr);
    const Clock::time_point start = profile_first_step_ != kNotProfiled ? Clock::now() : Clock::time_point();
    step.kernel->run(in_ptrs, out_ptrs, pool);
    if (profile_first_step_ != kNotProfiled)
      Profiler::global().record(profile_first_step_ + i, std::chrono::duration<double>(Clock::now() - start).count());
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& src = slots_[graph_.outputs()[i]];
    if (src.raw() != outputs[i].raw()) std::memcpy(outputs[i].raw(), src.raw(), outputs[i].nbytes());
  }
  // Drop references to caller memory so it is not kept alive between runs.
  for (int v : graph_.inputs()) slots_[v] = Tensor();
  for (int v : graph_.outputs())
    if (produced_[v]) slots_[v] = Tensor();
  return outputs;
}

}  // namespace metalnn::cpu
