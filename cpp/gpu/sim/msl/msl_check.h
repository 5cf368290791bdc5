// The address-space check (msl_translator/address_spaces.py) compiles translated code with clang as
// C++ for OpenCL, METAL_SIM_ADDRESS_SPACE_CHECK set to its pass (1 or 2). This header, included
// first by msl_compat.h in that mode only, adapts the dialect: the extensions libstdc++'s headers and
// MSL code need, OpenCL keywords and predeclared types MSL code may use as names, and the runtime
// hooks taking string literals, which OpenCL places in __constant memory. Nothing here is compiled
// into the simulator.
#pragma once
#pragma OPENCL EXTENSION __cl_clang_variadic_functions : enable
#pragma OPENCL EXTENSION __cl_clang_function_pointers : enable
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#pragma OPENCL EXTENSION __cl_clang_bitfields : enable

#define half _Float16  // `half` is OpenCL's own type; MSL's is _Float16 here as in the simulator
#define global metal_sim_global
#define local metal_sim_local
#define generic metal_sim_generic
#define pipe metal_sim_pipe
#define read_only metal_sim_read_only
#define write_only metal_sim_write_only
#define read_write metal_sim_read_write
#define vec_step metal_sim_vec_step
// OpenCL predeclares its own atomic types; MSL's are metal::atomic<T>.
#define atomic_int metal_sim_atomic_int
#define atomic_uint metal_sim_atomic_uint
#define atomic_long metal_sim_atomic_long
#define atomic_ulong metal_sim_atomic_ulong
#define atomic_float metal_sim_atomic_float
#define atomic_double metal_sim_atomic_double
#define atomic_flag metal_sim_atomic_flag
#define MSL_STRING const __constant char*

#include "../kernel_abi.h"

namespace metal_sim {
void threadgroup_barrier_at(MSL_STRING file, unsigned line);
void simdgroup_barrier_at(MSL_STRING file, unsigned line);
SimdLanes simd_exchange(const void* value, unsigned size, MSL_STRING what, MSL_STRING file, unsigned line);
[[noreturn]] void kernel_fault(MSL_STRING what);
}  // namespace metal_sim
