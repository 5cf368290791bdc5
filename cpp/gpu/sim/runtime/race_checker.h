// The race checker (METALNN_SIM_RACECHECK=1): race-check copies of kernels report every load and
// store here. Threadgroup memory: per byte, which threads read and wrote it since the last
// threadgroup barrier; two threads, at least one writing, is a race. Device memory: each threadgroup's
// read and written byte ranges, compared across the threadgroups of a dispatch when it ends, and
// across the dispatches of one command-buffer barrier interval; an access outside every binding's
// bytes (set_buffer's length) but inside a buffer one of them lies in is out of bounds. Atomics are
// not instrumented.
#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace metal_sim {

struct DispatchDesc;

// A byte range [begin, end) one threadgroup (or one dispatch) read or wrote, with one access that
// touched it for the report.
struct AccessRange {
  uintptr_t begin, end;
  uint32_t group;   // linear threadgroup index
  uint32_t thread;  // linear thread index in the threadgroup
  const void* pc;   // return address inside the instrumented kernel
};

// The byte ranges of device memory a dispatch read and wrote, each sorted and merged.
struct Footprint {
  std::vector<AccessRange> reads, writes;
};

// What one dispatch's threadgroups report; shared by the executor's OS threads.
class DispatchRaceLog {
 public:
  void add_group(std::vector<AccessRange>& reads, std::vector<AccessRange>& writes);
  // Keeps the first race reported.
  void report(std::string message);
  // After every threadgroup ran: the cross-threadgroup check and the dispatch's footprint.
  void finish(const DispatchDesc& dispatch);
  const std::string& error() const { return error_; }
  const Footprint& footprint() const { return footprint_; }

 private:
  std::mutex mutex_;
  std::vector<AccessRange> reads_, writes_;
  std::string error_;
  Footprint footprint_;
};

// Sorts ranges and merges overlapping or adjacent ones (of one group when by_group).
void merge_ranges(std::vector<AccessRange>& ranges, bool by_group);
// The first range of `a` overlapping one of `b` (both sorted and merged); false when none.
bool first_overlap(const std::vector<AccessRange>& a, const std::vector<AccessRange>& b, AccessRange* in_a,
                   AccessRange* in_b);
// "conv.metal:104" for an address inside an instrumented kernel (addr2line, best effort).
std::string source_line(const void* pc);
// "bytes 64..67 of buffer(2) 'out', which is bound to 64 bytes" for an access outside every binding.
std::string describe_outside(const DispatchDesc& dispatch, uintptr_t begin, uintptr_t end);
// "thread (x,y,z) of threadgroup (x,y,z)".
std::string describe_thread(const DispatchDesc& dispatch, uint32_t group, uint32_t thread);
// "buffer(2) 'out' bytes 64..67" for a device address.
std::string describe_device_bytes(const DispatchDesc& dispatch, uintptr_t begin, uintptr_t end);

// The per-OS-thread side: the threadgroup being run, its shadow of threadgroup memory and the device
// ranges it touched. ThreadgroupRunner drives it.
class RaceTracker {
 public:
  // The tracker running a race-checked threadgroup on this OS thread, else nullptr.
  static RaceTracker* active();

  void begin_group(const DispatchDesc& dispatch, uint32_t group, const void* arena, size_t arena_size);
  void end_group();
  void set_thread(uint32_t thread);
  void barrier();  // a threadgroup barrier: a new interval of threadgroup memory
  void name_threadgroup(const void* memory, const char* name);
  void access(const void* address, size_t size, bool write, const void* pc);
  void vector_component(const void* vector, unsigned size, const void* component);

 private:
  struct Shadow {
    uint32_t epoch;
    uint16_t writer, reader, reader2;
    const void* writer_pc;
    const void* reader_pc;
    const void* reader2_pc;
  };
  struct Component {
    const void* component;
    const void* vector;
    unsigned size;
  };
  struct Named {
    uintptr_t begin;
    const char* name;
  };
  struct Binding {
    uintptr_t begin, end;                         // the bytes the kernel may touch
    uintptr_t allocation_begin, allocation_end;  // the buffer they lie in (0, 0 for set_bytes)
  };

  void threadgroup_access(size_t offset, size_t size, bool write, const void* pc);
  void device_access(uintptr_t begin, uintptr_t end, bool write, const void* pc);
  void out_of_bounds(uintptr_t begin, uintptr_t end, bool write, const void* pc);
  void race(size_t offset, bool write, const void* pc, uint16_t other, bool other_write, const void* other_pc);

  const DispatchDesc* dispatch_ = nullptr;
  uint32_t group_ = 0;
  uint32_t thread_ = 0;
  uint32_t epoch_ = 0;
  uintptr_t arena_ = 0;
  size_t arena_size_ = 0;
  std::vector<Shadow> shadow_;
  std::vector<Named> names_;
  std::vector<Binding> bindings_;
  Component recent_[4] = {};
  unsigned recent_next_ = 0;
  bool reported_ = false;
  std::vector<AccessRange> reads_, writes_;
};

}  // namespace metal_sim
