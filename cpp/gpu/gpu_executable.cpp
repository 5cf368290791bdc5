#include "gpu/gpu_executable.h"

#include <algorithm>
#include <cstring>
#include <atomic>
#include <new>

#include "core/error.h"
#include "params.h"

namespace metalnn::gpu {

namespace {

bool is_float(DType t) { return t == DType::Float32 || t == DType::Float16; }

int position(const std::vector<int>& ids, int v) {
  auto it = std::find(ids.begin(), ids.end(), v);
  return it == ids.end() ? -1 : int(it - ids.begin());
}

struct Range {
  const Buffer* buffer;
  size_t begin, end;
  bool overlaps(const Range& o) const { return buffer == o.buffer && begin < o.end && o.begin < end; }
};

bool any_overlap(const std::vector<Range>& a, const std::vector<Range>& b) {
  for (const Range& x : a)
    for (const Range& y : b)
      if (x.overlaps(y)) return true;
  return false;
}

std::atomic<bool> encoder_barriers{true};

}  // namespace

void set_encoder_barriers(bool enabled) { encoder_barriers = enabled; }

GpuExecutable::GpuExecutable(const Graph& g, std::shared_ptr<Device> device, PipelineCache& pipelines,
                             const std::string& precision, const NodeEvaluator& evaluator)
    : graph_(g), device_(std::move(device)) {
  if (precision != "float32" && precision != "float16")
    throw DeviceError("device '" + device_->name() + "': precision must be float32 or float16, got '" + precision + "'");
  float_storage_ = precision == "float16" ? DType::Float16 : DType::Float32;
  Lowering lowering(graph_, float_storage_, *device_, pipelines, evaluator);
  plan_memory(lowering);
  std::vector<Dispatch> prologue, epilogue;
  convert_edges(pipelines, prologue, epilogue);
  dispatches_ = std::move(prologue);
  lower_nodes(lowering);
  for (Dispatch& d : epilogue) dispatches_.push_back(std::move(d));
  // Constants are bound to their uploaded buffers once.
  for (Dispatch& d : dispatches_)
    for (Binding& b : d.bindings)
      if (b.source == Binding::Source::kValue && graph_.value(b.id).is_constant()) {
        b.source = Binding::Source::kBuffer;
        b.buffer = lowering.constant_buffer(b.id);
      }
  staging_.resize(graph_.inputs().size());
  for (size_t i = 0; i < graph_.inputs().size(); ++i) {
    const Value& v = graph_.value(graph_.inputs()[i]);
    staging_[i] = device_->new_buffer(size_t(shape_numel(v.shape)) * dtype_size(v.dtype));
  }
}

void GpuExecutable::plan_memory(const Lowering& lowering) {
  // The plan sizes tensors by their storage dtype.
  Graph sized = graph_;
  for (int v = 0; v < sized.num_values(); ++v)
    if (!sized.value(v).is_constant()) sized.value(v).dtype = lowering.storage(v);
  plan_ = Plan::build(sized, device_->limits().buffer_alignment);
  arena_ = device_->new_buffer(plan_.arena_bytes);
  const int nv = graph_.num_values();
  internal_.resize(nv);
  produced_.assign(nv, 0);
  for (const Node& n : graph_.nodes())
    for (int v : n.outputs)
      if (v >= 0) produced_[v] = 1;
}

void GpuExecutable::convert_edges(PipelineCache& pipelines, std::vector<Dispatch>& prologue,
                                  std::vector<Dispatch>& epilogue) {
  const DType float_storage = float_storage_;
  // A graph input or output converted at the edges gets a buffer of its own in the float storage type.
  auto internal_buffer = [&](int v) {
    if (!internal_[v])
      internal_[v] = device_->new_buffer(size_t(shape_numel(graph_.value(v).shape)) * dtype_size(float_storage));
  };
  auto cast = [&](DType from, DType to, int v) {
    const uint64_t count = uint64_t(shape_numel(graph_.value(v).shape));
    Dispatch d;
    d.pipeline = pipelines.get(kernel_name("cast", dtype_suffix(from), dtype_suffix(to)));
    d.params(2, CastParams{uint32_t(count)}).threads_1d(count);
    return d;
  };
  // Float graph inputs and outputs whose dtype differs from the float storage are converted at the
  // edges, so every kernel sees one float type and the caller's buffers keep their own.
  for (size_t i = 0; i < graph_.inputs().size(); ++i) {
    const int v = graph_.inputs()[i];
    const DType dtype = graph_.value(v).dtype;
    if (!is_float(dtype) || dtype == float_storage) continue;
    internal_buffer(v);
    Dispatch d = cast(dtype, float_storage, v);
    d.bindings.push_back(Binding{Binding::Source::kGraphInput, 0, int(i)});
    prologue.push_back(std::move(d.output(1, v)));
  }
  for (size_t i = 0; i < graph_.outputs().size(); ++i) {
    const int v = graph_.outputs()[i];
    const DType dtype = graph_.value(v).dtype;
    if (!produced_[v] || !is_float(dtype) || dtype == float_storage || internal_[v]) continue;
    internal_buffer(v);
    Dispatch d = cast(float_storage, dtype, v);
    Binding out{Binding::Source::kGraphOutput, 1, int(i)};
    out.write = true;
    d.bindings.push_back(std::move(out));
    epilogue.push_back(std::move(d.input(0, v)));
  }
  for (const Dispatch& d : prologue) check_dispatch(d, *device_, "an input conversion");
  for (const Dispatch& d : epilogue) check_dispatch(d, *device_, "an output conversion");
}

void GpuExecutable::lower_nodes(Lowering& lowering) {
  for (const Node& n : graph_.nodes()) {
    LowerFn lower = find_lowering(n.op_type);
    if (!lower) throw UnsupportedOpError(n.label() + ": the GPU devices have no kernel for " + n.op_type);
    const size_t first = lowering.dispatches().size();
    try {
      lower(lowering, n);
    } catch (const std::bad_alloc&) {  // a lowering's tables; sized tables say more themselves
      throw AllocationError(n.label() + ": out of memory preparing the kernel");
    }
    for (size_t i = first; i < lowering.dispatches().size(); ++i) check_dispatch(lowering.dispatches()[i], *device_, n.label());
  }
  for (Dispatch& d : lowering.dispatches()) dispatches_.push_back(std::move(d));
}

std::vector<std::string> GpuExecutable::kernels() const {
  std::vector<std::string> names;
  for (const Dispatch& d : dispatches_) names.push_back(d.pipeline->kernel_name());
  return names;
}

std::vector<std::string> GpuExecutable::dispatched_kernels() const {
  std::vector<std::string> names;
  for (const Dispatch& d : dispatches_)
    if (uint64_t(d.groups.x) * d.groups.y * d.groups.z) names.push_back(d.pipeline->kernel_name());
  return names;
}

GpuExecutable::Location GpuExecutable::locate(const Binding& b, const std::vector<std::shared_ptr<Buffer>>& inputs,
                                              const std::vector<std::shared_ptr<Buffer>>& outputs) const {
  switch (b.source) {
    case Binding::Source::kBuffer: return Location{b.buffer.get(), 0, b.buffer->length()};
    case Binding::Source::kGraphInput: return Location{inputs[b.id].get(), 0, inputs[b.id]->length()};
    case Binding::Source::kGraphOutput: return Location{outputs[b.id].get(), 0, outputs[b.id]->length()};
    case Binding::Source::kBytes: return Location{};
    case Binding::Source::kValue: break;
  }
  const int v = b.id;
  const Value& val = graph_.value(v);
  if (internal_[v]) return Location{internal_[v].get(), 0, internal_[v]->length()};
  if (plan_.in_arena(v)) {
    const DType storage = is_float(val.dtype) ? float_storage_ : val.dtype;
    const size_t bytes = size_t(shape_numel(val.shape)) * dtype_size(storage);
    return Location{arena_.get(), size_t(plan_.offsets[v]), bytes};
  }
  const int in = position(graph_.inputs(), v);
  if (in >= 0) return Location{inputs[in].get(), 0, inputs[in]->length()};
  const int out = position(graph_.outputs(), v);
  if (out >= 0 && outputs[out]) return Location{outputs[out].get(), 0, outputs[out]->length()};
  throw DeviceError("GPU executable: value '" + val.name + "' has no buffer");
}

void GpuExecutable::encode(CommandBuffer& cb, const std::vector<std::shared_ptr<Buffer>>& inputs,
                           const std::vector<std::shared_ptr<Buffer>>& outputs) const {
  std::vector<Range> pending_reads, pending_writes, reads, writes;
  for (const Dispatch& d : dispatches_) {
    if (uint64_t(d.groups.x) * d.groups.y * d.groups.z == 0) continue;
    reads.clear();
    writes.clear();
    for (const Binding& b : d.bindings) {
      if (b.source == Binding::Source::kBytes) continue;
      const Location l = locate(b, inputs, outputs);
      (b.write ? writes : reads).push_back(Range{l.buffer, l.offset, l.offset + l.length});
    }
    // Read after write, write after read and write after write all need the earlier dispatch done.
    if (encoder_barriers &&
        (any_overlap(reads, pending_writes) || any_overlap(writes, pending_writes) || any_overlap(writes, pending_reads))) {
      cb.barrier();
      pending_reads.clear();
      pending_writes.clear();
    }
    cb.set_pipeline(*d.pipeline);
    for (const Binding& b : d.bindings) {
      if (b.source == Binding::Source::kBytes) {
        cb.set_bytes(b.bytes.data(), b.bytes.size(), b.index);
      } else {
        const Location l = locate(b, inputs, outputs);
        cb.set_buffer(*l.buffer, l.offset, l.length, b.index);
      }
    }
    for (const auto& [index, bytes] : d.threadgroup_memory) cb.set_threadgroup_memory(bytes, index);
    cb.dispatch(d.groups, d.threads);
    pending_reads.insert(pending_reads.end(), reads.begin(), reads.end());
    pending_writes.insert(pending_writes.end(), writes.begin(), writes.end());
  }
}

std::vector<Tensor> GpuExecutable::run(const std::vector<Tensor>& inputs) {
  std::vector<std::shared_ptr<Buffer>> in_buffers(inputs.size()), out_buffers(graph_.outputs().size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    // Read in place where the device can wrap the memory (zero copy), else copied once.
    if (t.nbytes()) in_buffers[i] = device_->wrap_memory(t.raw(), t.nbytes());
    if (!in_buffers[i]) {
      in_buffers[i] = staging_[i];
      if (t.nbytes()) std::memcpy(staging_[i]->contents(), t.raw(), t.nbytes());
    }
  }
  for (size_t i = 0; i < out_buffers.size(); ++i) {
    const Value& v = graph_.value(graph_.outputs()[i]);
    if (produced_[graph_.outputs()[i]]) out_buffers[i] = device_->new_buffer(size_t(shape_numel(v.shape)) * dtype_size(v.dtype));
  }
  auto cb = device_->new_command_buffer();
  encode(*cb, in_buffers, out_buffers);
  cb->commit_and_wait();

  std::vector<Tensor> outputs;
  for (size_t i = 0; i < out_buffers.size(); ++i) {
    const int id = graph_.outputs()[i];
    const Value& v = graph_.value(id);
    if (out_buffers[i]) {
      // The array the caller gets is the buffer the kernels wrote: its owner keeps the buffer alive.
      std::shared_ptr<const void> owner(out_buffers[i], out_buffers[i]->contents());
      outputs.emplace_back(v.dtype, v.shape, out_buffers[i]->contents(), owner);
      continue;
    }
    Tensor t = Tensor::empty(v.dtype, v.shape, "output '" + v.name + "'");
    const int in = position(graph_.inputs(), id);
    const void* src = v.is_constant() ? v.constant.raw() : in >= 0 ? inputs[in].raw() : nullptr;
    if (src && t.nbytes()) std::memcpy(t.raw(), src, t.nbytes());
    outputs.push_back(std::move(t));
  }
  return outputs;
}

}  // namespace metalnn::gpu
