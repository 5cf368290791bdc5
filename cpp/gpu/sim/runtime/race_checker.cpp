// The race checker: see race_checker.h. The __tsan_* entry points at the end are what the compiler's
// ThreadSanitizer instrumentation calls in race-check copies of kernels.
#include "race_checker.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "threadgroup_runner.h"

namespace metal_sim {
namespace {

constexpr uint16_t kNone = 0xFFFF;
constexpr size_t kCompactAt = 1 << 16;  // ranges a threadgroup logs before they are merged

thread_local RaceTracker* t_active = nullptr;

std::string hex(uintptr_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%zx", size_t(v));
  return buf;
}

}  // namespace

void merge_ranges(std::vector<AccessRange>& ranges, bool by_group) {
  std::sort(ranges.begin(), ranges.end(), [by_group](const AccessRange& a, const AccessRange& b) {
    if (by_group && a.group != b.group) return a.group < b.group;
    return a.begin < b.begin;
  });
  size_t out = 0;
  for (size_t i = 0; i < ranges.size(); ++i) {
    if (out > 0) {
      AccessRange& last = ranges[out - 1];
      if ((!by_group || last.group == ranges[i].group) && ranges[i].begin <= last.end) {
        last.end = std::max(last.end, ranges[i].end);
        continue;
      }
    }
    ranges[out++] = ranges[i];
  }
  ranges.resize(out);
}

bool first_overlap(const std::vector<AccessRange>& a, const std::vector<AccessRange>& b, AccessRange* in_a,
                   AccessRange* in_b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i].end <= b[j].begin) {
      ++i;
    } else if (b[j].end <= a[i].begin) {
      ++j;
    } else {
      *in_a = a[i], *in_b = b[j];
      return true;
    }
  }
  return false;
}

std::string source_line(const void* pc) {
  // The return address follows the access's call; one byte back is still on its line.
  const uintptr_t at = reinterpret_cast<uintptr_t>(pc) - 1;
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(at), &info) || !info.dli_fname) return "pc " + hex(at);
  const uintptr_t base = reinterpret_cast<uintptr_t>(info.dli_fbase);
  std::string line;
  for (uintptr_t address : {at - base, at}) {  // shared objects and PIE, then fixed-address executables
    const std::string command = "addr2line -e '" + std::string(info.dli_fname) + "' " + hex(address) + " 2>/dev/null";
    if (FILE* p = popen(command.c_str(), "r")) {
      char buf[4096];
      if (std::fgets(buf, sizeof buf, p)) line = buf;
      pclose(p);
    }
    while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
    if (const size_t paren = line.find(" (discriminator"); paren != std::string::npos) line.resize(paren);
    if (!line.empty() && line.compare(0, 2, "??") != 0) return line;
  }
  return std::string(info.dli_fname) + "+" + hex(at - base);
}

std::string describe_thread(const DispatchDesc& d, uint32_t group, uint32_t thread) {
  const uint32_t* g = d.threadgroups;
  const uint32_t* t = d.threads_per_threadgroup;
  auto three = [](uint32_t i, const uint32_t* n) {
    return "(" + std::to_string(i % n[0]) + "," + std::to_string(i / n[0] % n[1]) + "," +
           std::to_string(i / (n[0] * n[1])) + ")";
  };
  return "thread " + three(thread, t) + " of threadgroup " + three(group, g);
}

std::string describe_device_bytes(const DispatchDesc& d, uintptr_t begin, uintptr_t end) {
  for (unsigned i = 0; i < d.kernel->param_count; ++i) {
    const ParamSpec& p = d.kernel->params[i];
    if (p.kind != ParamKind::kBuffer) continue;
    const uintptr_t b = reinterpret_cast<uintptr_t>(d.buffers[p.index]);
    if (b && begin >= b && begin < b + d.buffer_lengths[p.index]) {
      return "buffer(" + std::to_string(p.index) + ") '" + p.name + "' bytes " + std::to_string(begin - b) + ".." +
             std::to_string(end - 1 - b);
    }
  }
  return "device memory " + hex(begin);
}

std::string describe_outside(const DispatchDesc& d, uintptr_t begin, uintptr_t end) {
  // The binding the access is nearest to, in the buffer it touched.
  const ParamSpec* nearest = nullptr;
  uintptr_t nearest_begin = 0, distance = UINTPTR_MAX;
  for (unsigned i = 0; i < d.kernel->param_count; ++i) {
    const ParamSpec& p = d.kernel->params[i];
    const uintptr_t a = reinterpret_cast<uintptr_t>(d.allocations[p.index]);
    if (p.kind != ParamKind::kBuffer || !a || begin >= a + d.allocation_lengths[p.index] || end <= a) continue;
    const uintptr_t b = reinterpret_cast<uintptr_t>(d.buffers[p.index]), e = b + d.buffer_lengths[p.index];
    const uintptr_t gap = begin >= e ? begin - e + 1 : end <= b ? b - end + 1 : 0;
    if (gap < distance) nearest = &p, nearest_begin = b, distance = gap;
  }
  if (!nearest) return "device memory " + hex(begin);
  const size_t length = d.buffer_lengths[nearest->index];
  const auto offset = [&](uintptr_t at) {
    return at >= nearest_begin ? std::to_string(at - nearest_begin) : "-" + std::to_string(nearest_begin - at);
  };
  return "bytes " + offset(begin) + ".." + offset(end - 1) + " of buffer(" + std::to_string(nearest->index) + ") '" +
         nearest->name + "', which is bound to " + std::to_string(length) + " bytes";
}

void DispatchRaceLog::add_group(std::vector<AccessRange>& reads, std::vector<AccessRange>& writes) {
  std::lock_guard<std::mutex> lock(mutex_);
  reads_.insert(reads_.end(), reads.begin(), reads.end());
  writes_.insert(writes_.end(), writes.begin(), writes.end());
}

void DispatchRaceLog::report(std::string message) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (error_.empty()) error_ = std::move(message);
}

void DispatchRaceLog::finish(const DispatchDesc& d) {
  // Each group's ranges arrive merged; sorted by address, a range overlapping one of another group
  // that started before it overlaps the one reaching furthest.
  std::sort(writes_.begin(), writes_.end(), [](const AccessRange& a, const AccessRange& b) { return a.begin < b.begin; });
  const std::string kernel = std::string("kernel '") + d.kernel->host_name + "': ";
  auto conflict = [&](const AccessRange& first, const char* first_kind, const AccessRange& second,
                      const char* second_kind) {
    const uintptr_t begin = std::max(first.begin, second.begin), end = std::min(first.end, second.end);
    report(kernel + "data race on " + describe_device_bytes(d, begin, end) + " between threadgroups: " +
           first_kind + " by " + describe_thread(d, first.group, first.thread) + " at " + source_line(first.pc) +
           ", " + second_kind + " by " + describe_thread(d, second.group, second.thread) + " at " +
           source_line(second.pc));
  };
  const AccessRange* furthest = nullptr;
  for (const AccessRange& w : writes_) {
    if (furthest && w.begin < furthest->end && furthest->group != w.group) {
      conflict(*furthest, "write", w, "write");
      break;
    }
    if (!furthest || w.end > furthest->end) furthest = &w;
  }
  if (error_.empty()) {
    for (const AccessRange& r : reads_) {
      auto it = std::upper_bound(writes_.begin(), writes_.end(), r.begin,
                                 [](uintptr_t a, const AccessRange& w) { return a < w.begin; });
      if (it != writes_.begin()) --it;
      for (; it != writes_.end() && it->begin < r.end; ++it) {
        if (it->end > r.begin && it->group != r.group) {
          conflict(*it, "write", r, "read");
          break;
        }
      }
      if (!error_.empty()) break;
    }
  }
  footprint_.reads = std::move(reads_);
  footprint_.writes = std::move(writes_);
  merge_ranges(footprint_.reads, false);
  merge_ranges(footprint_.writes, false);
}

RaceTracker* RaceTracker::active() { return t_active; }

void RaceTracker::begin_group(const DispatchDesc& d, uint32_t group, const void* arena, size_t arena_size) {
  dispatch_ = &d;
  group_ = group;
  thread_ = 0;
  arena_ = reinterpret_cast<uintptr_t>(arena);
  arena_size_ = arena_size;
  bindings_.clear();  // the few bound buffers, so that each access looks at those only
  for (unsigned i = 0; i < kMaxBufferBindings; ++i) {
    const uintptr_t b = reinterpret_cast<uintptr_t>(d.buffers[i]);
    const uintptr_t a = reinterpret_cast<uintptr_t>(d.allocations[i]);
    if (b) bindings_.push_back(Binding{b, b + d.buffer_lengths[i], a, a ? a + d.allocation_lengths[i] : 0});
  }
  if (shadow_.size() < arena_size) shadow_.resize(arena_size);
  names_.clear();
  reads_.clear();
  writes_.clear();
  reported_ = false;
  barrier();
  t_active = this;
}

void RaceTracker::end_group() {
  t_active = nullptr;
  merge_ranges(reads_, false);
  merge_ranges(writes_, false);
  dispatch_->race->add_group(reads_, writes_);
}

void RaceTracker::set_thread(uint32_t thread) {
  thread_ = thread;
  recent_[0] = recent_[1] = recent_[2] = recent_[3] = Component{};
}

void RaceTracker::barrier() {
  if (++epoch_ == 0) {  // wrapped: forget every interval
    for (Shadow& s : shadow_) s.epoch = 0;
    epoch_ = 1;
  }
}

void RaceTracker::name_threadgroup(const void* memory, const char* name) {
  const uintptr_t p = reinterpret_cast<uintptr_t>(memory);
  for (const Named& n : names_) {
    if (n.begin == p) return;
  }
  names_.push_back({p, name});
}

void RaceTracker::vector_component(const void* vector, unsigned size, const void* component) {
  recent_[recent_next_++ % 4] = Component{component, vector, size};
}

void RaceTracker::access(const void* address, size_t size, bool write, const void* pc) {
  uintptr_t a = reinterpret_cast<uintptr_t>(address);
  if (write) {
    for (Component& c : recent_) {
      if (c.component == address) {  // a store to one component: read and write the whole vector
        a = reinterpret_cast<uintptr_t>(c.vector);
        size = c.size;
        c = Component{};
        access(reinterpret_cast<const void*>(a), size, false, pc);
        break;
      }
    }
  }
  if (a - arena_ < arena_size_) {
    threadgroup_access(a - arena_, std::min(size, arena_size_ - (a - arena_)), write, pc);
  } else {
    device_access(a, a + size, write, pc);
  }
}

void RaceTracker::threadgroup_access(size_t offset, size_t size, bool write, const void* pc) {
  const uint16_t me = uint16_t(thread_);
  for (size_t b = offset; b < offset + size; ++b) {
    Shadow& s = shadow_[b];
    if (s.epoch != epoch_) s = Shadow{epoch_, kNone, kNone, kNone, nullptr, nullptr, nullptr};
    if (s.writer != kNone && s.writer != me) {
      race(b, write, pc, s.writer, true, s.writer_pc);
    } else if (write && s.reader != kNone && s.reader != me) {
      race(b, write, pc, s.reader, false, s.reader_pc);
    } else if (write && s.reader2 != kNone && s.reader2 != me) {
      race(b, write, pc, s.reader2, false, s.reader2_pc);
    }
    if (write) {
      s.writer = me, s.writer_pc = pc;
    } else if (s.reader == kNone) {
      s.reader = me, s.reader_pc = pc;
    } else if (s.reader != me && s.reader2 == kNone) {
      s.reader2 = me, s.reader2_pc = pc;
    }
  }
}

void RaceTracker::out_of_bounds(uintptr_t begin, uintptr_t end, bool write, const void* pc) {
  if (reported_) return;
  reported_ = true;
  dispatch_->race->report(std::string("kernel '") + dispatch_->kernel->host_name + "': out-of-bounds " +
                          (write ? "write" : "read") + " of " + describe_outside(*dispatch_, begin, end) + " by " +
                          describe_thread(*dispatch_, group_, thread_) + " at " + source_line(pc));
}

void RaceTracker::race(size_t offset, bool write, const void* pc, uint16_t other, bool other_write,
                       const void* other_pc) {
  if (reported_) return;
  reported_ = true;
  // The threadgroup variable holding the byte: the named allocation starting last before it.
  const uintptr_t at = arena_ + offset;
  const Named* var = nullptr;
  for (const Named& n : names_) {
    if (n.begin <= at && (!var || n.begin > var->begin)) var = &n;
  }
  const std::string memory = var ? "threadgroup variable '" + std::string(var->name) + "' byte " +
                                       std::to_string(at - var->begin)
                                 : "threadgroup memory byte " + std::to_string(offset);
  dispatch_->race->report(std::string("kernel '") + dispatch_->kernel->host_name + "': data race on " + memory +
                          " between two threads of one threadgroup with no threadgroup_barrier between them: " +
                          (other_write ? "write" : "read") + " by " + describe_thread(*dispatch_, group_, other) +
                          " at " + source_line(other_pc) + ", " + (write ? "write" : "read") + " by " +
                          describe_thread(*dispatch_, group_, thread_) + " at " + source_line(pc));
}

void RaceTracker::device_access(uintptr_t begin, uintptr_t end, bool write, const void* pc) {
  bool bound = false;
  for (const Binding& b : bindings_) {
    if (begin >= b.begin && begin < b.end) {
      if (end > b.end) out_of_bounds(begin, end, write, pc);
      bound = true;
      break;
    }
  }
  if (!bound) {
    // Outside every binding but inside a buffer one of them lies in: the neighbouring tensor of an
    // arena, the rest of a buffer bound from an offset, or the page past a buffer's end. Anything else
    // is the thread's own stack, program-scope constants or the runtime's arguments.
    for (const Binding& b : bindings_) {
      if (begin < b.allocation_end && end > b.allocation_begin) out_of_bounds(begin, end, write, pc);
    }
    return;
  }
  std::vector<AccessRange>& log = write ? writes_ : reads_;
  if (!log.empty()) {
    AccessRange& last = log.back();
    if (begin <= last.end && end >= last.begin) {
      last.begin = std::min(last.begin, begin);
      last.end = std::max(last.end, end);
      return;
    }
  }
  log.push_back(AccessRange{begin, end, group_, thread_, pc});
  if (log.size() >= kCompactAt) merge_ranges(log, false);
}

}  // namespace metal_sim

// --- ThreadSanitizer's instrumentation ABI, as the race-check copies of kernels call it ------------
using metal_sim::RaceTracker;

#define MSIM_TSAN_ACCESS(size)                                                                  \
  extern "C" void __tsan_read##size(void* p) {                                                  \
    if (RaceTracker* t = RaceTracker::active()) t->access(p, size, false, __builtin_return_address(0)); \
  }                                                                                             \
  extern "C" void __tsan_write##size(void* p) {                                                 \
    if (RaceTracker* t = RaceTracker::active()) t->access(p, size, true, __builtin_return_address(0)); \
  }                                                                                             \
  extern "C" void __tsan_unaligned_read##size(void* p) {                                        \
    if (RaceTracker* t = RaceTracker::active()) t->access(p, size, false, __builtin_return_address(0)); \
  }                                                                                             \
  extern "C" void __tsan_unaligned_write##size(void* p) {                                       \
    if (RaceTracker* t = RaceTracker::active()) t->access(p, size, true, __builtin_return_address(0)); \
  }                                                                                             \
  extern "C" void __tsan_volatile_read##size(void* p) {                                         \
    if (RaceTracker* t = RaceTracker::active()) t->access(p, size, false, __builtin_return_address(0)); \
  }                                                                                             \
  extern "C" void __tsan_volatile_write##size(void* p) {                                        \
    if (RaceTracker* t = RaceTracker::active()) t->access(p, size, true, __builtin_return_address(0)); \
  }
MSIM_TSAN_ACCESS(1)
MSIM_TSAN_ACCESS(2)
MSIM_TSAN_ACCESS(4)
MSIM_TSAN_ACCESS(8)
MSIM_TSAN_ACCESS(16)
#undef MSIM_TSAN_ACCESS

extern "C" void __tsan_read_range(void* p, unsigned long size) {
  if (RaceTracker* t = RaceTracker::active()) t->access(p, size, false, __builtin_return_address(0));
}
extern "C" void __tsan_write_range(void* p, unsigned long size) {
  if (RaceTracker* t = RaceTracker::active()) t->access(p, size, true, __builtin_return_address(0));
}
extern "C" void __tsan_init() {}
extern "C" void __tsan_func_entry(void*) {}
extern "C" void __tsan_func_exit() {}
extern "C" void* __tsan_memcpy(void* d, const void* s, unsigned long n) {
  if (RaceTracker* t = RaceTracker::active()) {
    t->access(s, n, false, __builtin_return_address(0));
    t->access(d, n, true, __builtin_return_address(0));
  }
  return std::memcpy(d, s, n);
}
extern "C" void* __tsan_memmove(void* d, const void* s, unsigned long n) {
  if (RaceTracker* t = RaceTracker::active()) {
    t->access(s, n, false, __builtin_return_address(0));
    t->access(d, n, true, __builtin_return_address(0));
  }
  return std::memmove(d, s, n);
}
extern "C" void* __tsan_memset(void* d, int c, unsigned long n) {
  if (RaceTracker* t = RaceTracker::active()) t->access(d, n, true, __builtin_return_address(0));
  return std::memset(d, c, n);
}
