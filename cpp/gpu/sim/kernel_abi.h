// The contract between translated kernels and the metal-sim runtime: what a translated .metal file
// registers, what the runtime hands each simulated thread, and the hooks kernels call back into.
// Included by the MSL compatibility header, so it must not pull in C library headers (their global
// abs/exp/... would clash with metal:: under `using namespace metal`).
#pragma once
#include <cstddef>
#include <cstdint>

namespace metal_sim {

constexpr unsigned kMaxBufferBindings = 31;
constexpr unsigned kSimdWidth = 32;
constexpr unsigned kSimdSlotBytes = 64;  // largest value a simd_* function exchanges (e.g. long4)

// What a kernel parameter receives; one entry per [[attribute]] the translator understands.
enum class ParamKind : uint8_t {
  kBuffer,
  kThreadgroupMemory,
  kThreadPositionInGrid,
  kThreadPositionInThreadgroup,
  kThreadgroupPositionInGrid,
  kThreadsPerThreadgroup,
  kThreadgroupsPerGrid,
  kThreadsPerGrid,
  kThreadIndexInThreadgroup,
  kThreadIndexInSimdgroup,
  kSimdgroupIndexInThreadgroup,
  kThreadsPerSimdgroup,
  kSimdgroupsPerThreadgroup,
  kThreadIndexInQuadgroup,
  kQuadgroupIndexInThreadgroup,
  kGridOrigin,
};

struct ParamSpec {
  ParamKind kind;
  uint8_t index;   // buffer / threadgroup binding index
  bool optional;   // gated by a function constant: may be left unbound
  const char* name;
};

enum class ConstantType : uint8_t { kBool, kInt, kUInt, kShort, kUShort, kChar, kUChar, kFloat, kHalf };

struct FunctionConstantSpec {
  unsigned index;
  ConstantType type;
  const char* name;
};

// One function-constant value as the pipeline holds it (bits of the declared type, zero-extended).
struct ConstantValue {
  unsigned index;
  ConstantType type;
  uint32_t bits;
};

// Everything one simulated thread's parameters are bound from.
struct ThreadArgs {
  void* const* buffers;             // kMaxBufferBindings entries
  void* const* threadgroup_memory;  // kMaxBufferBindings entries
  uint32_t position_in_grid[3];
  uint32_t position_in_threadgroup[3];
  uint32_t threadgroup_position[3];
  uint32_t threads_per_threadgroup[3];
  uint32_t threadgroups_per_grid[3];
  uint32_t threads_per_grid[3];
  uint32_t index_in_threadgroup;
  uint32_t simd_lane;
  uint32_t simd_group;
  uint32_t simd_groups;
  const size_t* buffer_lengths;  // kMaxBufferBindings entries: bytes from each binding the kernel may touch
};

using InvokeFn = void (*)(const ThreadArgs&);

struct KernelInfo {
  const char* host_name;
  const char* source_file;
  unsigned source_line;
  InvokeFn invoke;
  bool uses_barriers;  // barriers or simd collectives somewhere in its call graph: needs fibers
  unsigned max_total_threads;  // [[max_total_threads_per_threadgroup]], 0 when absent
  const ParamSpec* params;
  unsigned param_count;
  const FunctionConstantSpec* constants;  // the function constants of its source file
  unsigned constant_count;
};

// The kernels of one translated .metal file.
struct KernelTable {
  const KernelInfo* kernels;
  unsigned count;
  // The same kernels compiled a second time with every memory access reported to the race checker
  // (msl/msl_racecheck.h); nullptr when the file was built without that copy.
  const KernelTable* racecheck;
};

// Values exchanged by one simd_* call: every lane's slot and which lanes took part.
struct SimdLanes {
  const unsigned char* slots;  // kSimdWidth slots of kSimdSlotBytes
  uint32_t active_mask;
  uint32_t lane;
};

// Hooks implemented by the runtime (cpp/gpu/sim/runtime/).
void threadgroup_barrier_at(const char* file, unsigned line);
void simdgroup_barrier_at(const char* file, unsigned line);
SimdLanes simd_exchange(const void* value, unsigned size, const char* what, const char* file, unsigned line);
void* threadgroup_alloc(unsigned site, size_t size, size_t align);
// Race-check copies only (METAL_SIM_RACECHECK): the name of a threadgroup variable, for reports, and
// a reference taken to one component of a vector, so that a store through it counts as the
// read-modify-write of the whole vector it is on the GPU.
void race_name_threadgroup(const void* memory, const char* name);
void race_vector_component(const void* vector, unsigned size, const void* component);
// A load or store of a race-check copy compiled into a run-time library (its __tsan_* callbacks).
void race_access(const void* address, size_t size, bool write, const void* pc);
// nullptr when the pipeline gave no value for this index.
const ConstantValue* function_constant(unsigned index);
[[noreturn]] void kernel_fault(const char* what);

// The hooks above as a table, for kernels compiled into a shared library at run time (custom
// kernels): the library cannot link against the runtime, so it is handed this table when loaded
// (msl/msl_runtime_table.h defines the library's side). Not part of the address-space check.
#ifndef METAL_SIM_ADDRESS_SPACE_CHECK
struct RuntimeHooks {
  void (*threadgroup_barrier_at)(const char* file, unsigned line);
  void (*simdgroup_barrier_at)(const char* file, unsigned line);
  SimdLanes (*simd_exchange)(const void* value, unsigned size, const char* what, const char* file, unsigned line);
  void* (*threadgroup_alloc)(unsigned site, size_t size, size_t align);
  const ConstantValue* (*function_constant)(unsigned index);
  void (*kernel_fault)(const char* what);
  // For the library's race-check copy: the two hooks above and the __tsan_* callbacks' target.
  void (*race_name_threadgroup)(const void* memory, const char* name);
  void (*race_vector_component)(const void* vector, unsigned size, const void* component);
  void (*race_access)(const void* address, size_t size, bool write, const void* pc);
};
const RuntimeHooks& runtime_hooks();  // the runtime's own functions
#endif

}  // namespace metal_sim
