// Scheduling of one threadgroup: see threadgroup_runner.h.
#include "threadgroup_runner.h"

#include "integer_division.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <tuple>

#include "address_sanitizer.h"

namespace metal_sim {
namespace {

#ifdef MSIM_ASAN
constexpr size_t kFiberStackBytes = 1 << 20;  // instrumented frames are several times larger
constexpr size_t kRedzoneBytes = 32;          // poisoned gap after each threadgroup variable
#else
constexpr size_t kFiberStackBytes = 256 << 10;
constexpr size_t kRedzoneBytes = 0;
#endif
constexpr size_t kArenaBytes = kMaxThreadgroupMemory + 64 * 64;

size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

}  // namespace

ThreadgroupRunner::ThreadgroupRunner()
    : arena_(new unsigned char[kArenaBytes]), arena_capacity_(kArenaBytes) {}

ThreadgroupRunner::~ThreadgroupRunner() {
#ifdef MSIM_ASAN
  ASAN_UNPOISON_MEMORY_REGION(arena_.get(), arena_capacity_);
#endif
}

ThreadgroupRunner& ThreadgroupRunner::for_this_thread() {
  static thread_local ThreadgroupRunner runner;
  return runner;
}

void ThreadgroupRunner::run(const DispatchDesc& dispatch, uint32_t group_index) {
  dispatch_ = &dispatch;
  begin_group(group_index);
  if (dispatch.race) {
    race_.begin_group(dispatch, group_index, arena_.get(), arena_capacity_);
    for (unsigned i = 0; i < dispatch.kernel->param_count; ++i) {
      const ParamSpec& p = dispatch.kernel->params[i];
      if (p.kind == ParamKind::kThreadgroupMemory) race_.name_threadgroup(threadgroup_memory_[p.index], p.name);
    }
  }
  const KernelCodeScope kernel_code;  // integer division by zero gives a value, as on a GPU
  if (dispatch.kernel->uses_barriers) {
    run_fibers();
  } else {
    run_plain();
  }
  if (dispatch.race) race_.end_group();
}

void ThreadgroupRunner::name_threadgroup(const void* memory, const char* name) {
  if (dispatch_->race) race_.name_threadgroup(memory, name);
}

void ThreadgroupRunner::vector_component(const void* vector, unsigned size, const void* component) {
  if (dispatch_->race) race_.vector_component(vector, size, component);
}

void ThreadgroupRunner::begin_group(uint32_t group_index) {
  const uint32_t* groups = dispatch_->threadgroups;
  group_position_[0] = group_index % groups[0];
  group_position_[1] = group_index / groups[0] % groups[1];
  group_position_[2] = group_index / (groups[0] * groups[1]);
  const uint32_t* tpg = dispatch_->threads_per_threadgroup;
  for (int d = 0; d < 3; ++d) {
    const uint32_t grid = dispatch_->grid[d], first = group_position_[d] * tpg[d];
    group_size_[d] = grid && grid - first < tpg[d] ? grid - first : tpg[d];
  }
  thread_count_ = group_size_[0] * group_size_[1] * group_size_[2];
  done_count_ = 0;
  fiber_fault_ = nullptr;
  current_ = nullptr;

  // Fresh, poisoned threadgroup memory: a kernel that reads before writing sees NaN / 0xFF.
  sites_.clear();
  arena_used_ = 0;
  threadgroup_bytes_ = 0;
#ifdef MSIM_ASAN
  ASAN_POISON_MEMORY_REGION(arena_.get(), arena_capacity_);
#endif
  for (unsigned i = 0; i < kMaxBufferBindings; ++i) {
    const size_t length = dispatch_->threadgroup_lengths[i];
    threadgroup_memory_[i] = length ? arena_alloc(length, 16) : nullptr;
  }
}

void* ThreadgroupRunner::arena_alloc(size_t size, size_t align) {
  const size_t offset = round_up(arena_used_, align < 16 ? 16 : align);
  threadgroup_bytes_ += size;
  if (threadgroup_bytes_ > kMaxThreadgroupMemory || offset + size > arena_capacity_) {
    fault("threadgroup memory exceeds the 32 KiB a threadgroup may use");
  }
  unsigned char* p = arena_.get() + offset;
#ifdef MSIM_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, size);
#endif
  std::memset(p, 0xFF, size);
  arena_used_ = offset + size + kRedzoneBytes;
  return p;
}

void* ThreadgroupRunner::threadgroup_alloc(unsigned site, size_t size, size_t align) {
  for (const Site& s : sites_) {
    if (s.id == site) return s.memory;
  }
  void* p = arena_alloc(size, align);
  sites_.push_back({site, p});
  return p;
}

const ConstantValue* ThreadgroupRunner::function_constant(unsigned index) const {
  for (unsigned i = 0; i < dispatch_->constant_count; ++i) {
    if (dispatch_->constants[i].index == index) return &dispatch_->constants[i];
  }
  return nullptr;
}

void ThreadgroupRunner::fill_args(uint32_t local_index, ThreadArgs& a) const {
  const uint32_t* tpg = dispatch_->threads_per_threadgroup;
  const uint32_t* size = group_size_;
  const uint32_t local[3] = {local_index % size[0], local_index / size[0] % size[1], local_index / (size[0] * size[1])};
  a.buffers = dispatch_->buffers;
  a.buffer_lengths = dispatch_->buffer_lengths;
  a.threadgroup_memory = threadgroup_memory_;
  for (int d = 0; d < 3; ++d) {
    a.position_in_threadgroup[d] = local[d];
    a.threadgroup_position[d] = group_position_[d];
    a.threads_per_threadgroup[d] = size[d];
    a.threadgroups_per_grid[d] = dispatch_->threadgroups[d];
    a.threads_per_grid[d] = dispatch_->grid[d] ? dispatch_->grid[d] : tpg[d] * dispatch_->threadgroups[d];
    a.position_in_grid[d] = group_position_[d] * tpg[d] + local[d];
  }
  a.index_in_threadgroup = local_index;
  a.simd_lane = local_index % kSimdWidth;
  a.simd_group = local_index / kSimdWidth;
  a.simd_groups = (thread_count_ + kSimdWidth - 1) / kSimdWidth;
}

void ThreadgroupRunner::run_plain() {
  plain_ = true;
  threads_.resize(1);
  SimThread& t = threads_[0];
  current_ = &t;
  for (uint32_t k = 0; k < thread_count_; ++k) {
    const uint32_t i = dispatch_->reverse_order ? thread_count_ - 1 - k : k;
    fill_args(i, t.args);
    if (dispatch_->race) race_.set_thread(i);
    dispatch_->kernel->invoke(t.args);
  }
  current_ = nullptr;
}

void ThreadgroupRunner::run_fibers() {
  plain_ = false;
  const uint32_t n = thread_count_;
  if (threads_.size() < n) threads_.resize(n);
  while (stacks_.size() < n) stacks_.push_back(std::make_unique<FiberStack>(kFiberStackBytes));
  simdgroups_.resize((n + kSimdWidth - 1) / kSimdWidth);
  for (uint32_t i = 0; i < n; ++i) {
    SimThread& t = threads_[i];
    t = SimThread{};
    t.runner = this;
    fill_args(i, t.args);
    t.sp = prepare_fiber_stack(stacks_[i]->top(), &ThreadgroupRunner::fiber_main, &t);
  }

  for (;;) {
    for (uint32_t k = 0; k < n; ++k) {
      SimThread& t = threads_[dispatch_->reverse_order ? n - 1 - k : k];
      if (t.state == State::kReady) switch_to(t);
      if (fiber_fault_) std::rethrow_exception(fiber_fault_);  // the other fibers are abandoned
    }
    if (done_count_ == n) return;
    if (release_simdgroups()) continue;
    if (release_threadgroup_barrier()) continue;
    fault("deadlock or divergent barrier: " + describe_waiting());
  }
}

bool ThreadgroupRunner::release_simdgroups() {
  bool released = false;
  for (uint32_t sg = 0; sg < simdgroups_.size(); ++sg) {
    const uint32_t begin = sg * kSimdWidth;
    const uint32_t end = begin + kSimdWidth < thread_count_ ? begin + kSimdWidth : thread_count_;
    const SimThread* first = nullptr;
    bool all_at_simd_level = true;
    for (uint32_t i = begin; i < end; ++i) {
      const SimThread& t = threads_[i];
      if (t.state == State::kDone) continue;
      if (t.wait == Wait::kSimdCollective || t.wait == Wait::kSimdgroupBarrier) {
        if (!first) first = &t;
      } else {
        all_at_simd_level = false;
      }
    }
    if (!first || !all_at_simd_level) continue;
    uint32_t mask = 0;
    for (uint32_t i = begin; i < end; ++i) {
      const SimThread& t = threads_[i];
      if (t.state == State::kDone) continue;
      if (t.wait != first->wait || t.wait_line != first->wait_line || std::strcmp(t.wait_file, first->wait_file) != 0 ||
          std::strcmp(t.wait_what, first->wait_what) != 0) {
        fault("divergent SIMD-group function: " + describe_waiting());
      }
      mask |= 1u << (i - begin);
    }
    simdgroups_[sg].active_mask[first->collectives & 1] = mask;
    for (uint32_t i = begin; i < end; ++i) {
      if (threads_[i].state == State::kWaiting) threads_[i].state = State::kReady;
    }
    released = true;
  }
  return released;
}

bool ThreadgroupRunner::release_threadgroup_barrier() {
  const SimThread* first = nullptr;
  for (uint32_t i = 0; i < thread_count_; ++i) {
    const SimThread& t = threads_[i];
    if (t.state == State::kDone) continue;
    if (t.wait != Wait::kThreadgroupBarrier) return false;
    if (!first) first = &t;
    if (t.wait_line != first->wait_line || std::strcmp(t.wait_file, first->wait_file) != 0) {
      fault("divergent threadgroup_barrier: " + describe_waiting());
    }
  }
  if (done_count_ > 0) {
    fault("divergent threadgroup_barrier: threads returned while others wait at the barrier: " + describe_waiting());
  }
  for (uint32_t i = 0; i < thread_count_; ++i) threads_[i].state = State::kReady;
  if (dispatch_->race) race_.barrier();
  return true;
}

std::string ThreadgroupRunner::thread_name(const SimThread& t) const {
  const uint32_t* p = t.args.position_in_threadgroup;
  return "(" + std::to_string(p[0]) + "," + std::to_string(p[1]) + "," + std::to_string(p[2]) + ")";
}

std::string ThreadgroupRunner::describe_waiting() const {
  // Groups threads by where they stand, e.g. "64 threads, first (0,0,0), at gemm.metal:31 (threadgroup_barrier)".
  std::map<std::tuple<std::string, unsigned, std::string>, std::pair<unsigned, const SimThread*>> groups;
  for (uint32_t i = 0; i < thread_count_; ++i) {
    const SimThread& t = threads_[i];
    auto key = t.state == State::kDone ? std::make_tuple(std::string("returned"), 0u, std::string())
                                       : std::make_tuple(std::string(t.wait_file), t.wait_line, std::string(t.wait_what));
    auto& entry = groups[key];
    if (entry.first++ == 0) entry.second = &t;
  }
  std::string out;
  for (const auto& [key, entry] : groups) {
    if (!out.empty()) out += "; ";
    out += std::to_string(entry.first) + " thread(s), first " + thread_name(*entry.second);
    if (std::get<0>(key) == "returned") {
      out += ", returned";
    } else {
      out += ", at " + std::get<0>(key) + ":" + std::to_string(std::get<1>(key)) + " (" + std::get<2>(key) + ")";
    }
  }
  return out;
}

void ThreadgroupRunner::fault(const std::string& what) const {
  const KernelInfo* k = dispatch_ ? dispatch_->kernel : nullptr;
  std::string thread;
  if (current_ && !plain_) {
    thread = ", thread " + thread_name(*current_);
  } else if (current_) {  // plain loop: the one SimThread holds the running thread's position
    const uint32_t* p = current_->args.position_in_threadgroup;
    thread = ", thread (" + std::to_string(p[0]) + "," + std::to_string(p[1]) + "," + std::to_string(p[2]) + ")";
  }
  char head[512];
  std::snprintf(head, sizeof head, "kernel '%s' (%s:%u), threadgroup (%u,%u,%u)", k ? k->host_name : "?",
                k ? k->source_file : "?", k ? k->source_line : 0, group_position_[0], group_position_[1],
                group_position_[2]);
  const std::string message = head + thread + ": " + what;
  if (dispatch_ && dispatch_->throw_faults) throw KernelFault(message);
  std::fprintf(stderr, "metal-sim: %s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
}

void ThreadgroupRunner::wait(Wait kind, const char* what, const char* file, unsigned line) {
  if (plain_) {
    fault(std::string(what) + " at " + file + ":" + std::to_string(line) +
          " in a kernel the translator classified as free of barriers and collectives");
  }
  SimThread& t = *current_;
  t.state = State::kWaiting;
  t.wait = kind;
  t.wait_what = what;
  t.wait_file = file;
  t.wait_line = line;
  switch_to_scheduler(t);
  t.wait = Wait::kNone;
}

void ThreadgroupRunner::wait_at_barrier(bool threadgroup_wide, const char* file, unsigned line) {
  if (threadgroup_wide) {
    wait(Wait::kThreadgroupBarrier, "threadgroup_barrier", file, line);
  } else {
    wait(Wait::kSimdgroupBarrier, "simdgroup_barrier", file, line);
  }
}

SimdLanes ThreadgroupRunner::simd_exchange(const void* value, unsigned size, const char* what, const char* file,
                                           unsigned line) {
  if (plain_) wait(Wait::kSimdCollective, what, file, line);  // faults
  SimThread& t = *current_;
  SimdgroupExchange& x = simdgroups_[t.args.simd_group];
  const unsigned buffer = t.collectives & 1;
  std::memcpy(x.slots[buffer][t.args.simd_lane], value, size);
  wait(Wait::kSimdCollective, what, file, line);
  ++t.collectives;
  return SimdLanes{&x.slots[buffer][0][0], x.active_mask[buffer], t.args.simd_lane};
}

// Fiber switching, with AddressSanitizer told about each stack change (else it reports false errors).
void ThreadgroupRunner::switch_to(SimThread& t) {
  current_ = &t;
  if (dispatch_->race) race_.set_thread(t.args.index_in_threadgroup);
#ifdef MSIM_ASAN
  void* fake_stack = nullptr;
  const FiberStack& stack = *stacks_[&t - threads_.data()];
  __sanitizer_start_switch_fiber(&fake_stack, stack.bottom(), stack.size());
#endif
  metal_sim_switch_context(&scheduler_sp_, t.sp);
#ifdef MSIM_ASAN
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
  current_ = nullptr;
}

void ThreadgroupRunner::switch_to_scheduler(SimThread& t) {
#ifdef MSIM_ASAN
  __sanitizer_start_switch_fiber(&t.asan_fake_stack, scheduler_stack_bottom_, scheduler_stack_size_);
#endif
  metal_sim_switch_context(&t.sp, scheduler_sp_);
#ifdef MSIM_ASAN
  __sanitizer_finish_switch_fiber(t.asan_fake_stack, &scheduler_stack_bottom_, &scheduler_stack_size_);
#endif
}

void ThreadgroupRunner::exit_fiber(SimThread& t) {
  t.state = State::kDone;
  ++done_count_;
#ifdef MSIM_ASAN
  __sanitizer_start_switch_fiber(nullptr, scheduler_stack_bottom_, scheduler_stack_size_);
#endif
  metal_sim_switch_context(&t.sp, scheduler_sp_);
  std::abort();  // a finished fiber is never resumed
}

void ThreadgroupRunner::fiber_main(void* arg) {
  auto& t = *static_cast<SimThread*>(arg);
  ThreadgroupRunner& runner = *t.runner;
#ifdef MSIM_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &runner.scheduler_stack_bottom_, &runner.scheduler_stack_size_);
#endif
  try {
    runner.dispatch_->kernel->invoke(t.args);
  } catch (const KernelFault&) {  // cannot unwind past the fiber's first frame: the scheduler rethrows it
    runner.fiber_fault_ = std::current_exception();
  }
  runner.exit_fiber(t);
}

}  // namespace metal_sim
