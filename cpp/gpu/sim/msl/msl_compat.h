// Force-included into every translated .metal file: the MSL vocabulary as C++17.
// The translator has already removed `kernel`, rewritten `constant`, threadgroup variables and
// function constants; what remains of MSL's syntax maps onto the definitions below.
#pragma once

// Address spaces. The simulator's memory is all the CPU's, so in its build they are erased; the
// address-space check compiles the same code as C++ for OpenCL, where they are distinct and clang
// rejects passing one where another is declared (two passes, see msl_translator/address_spaces.py).
#if defined(METAL_SIM_ADDRESS_SPACE_CHECK)
#include "msl_check.h"
#if METAL_SIM_ADDRESS_SPACE_CHECK == 1
#define device __global
#else
#define device __local
#endif
#define threadgroup __local
#define thread __private
#define METAL_SIM_CONSTANT __global  // the translator writes `constant` as METAL_SIM_CONSTANT const
#else
#define device
#define threadgroup
#define thread
#define METAL_SIM_CONSTANT
#define MSL_STRING const char*
#endif
#define threadgroup_imageblock
#define ray_data
#define object_data
#define METAL_FUNC inline
#define METAL_CONST const

#include "msl_atomic.h"
#include "msl_kernel_glue.h"
#include "msl_math.h"
#include "msl_simdgroup_matrix.h"
#include "msl_sync.h"
#include "msl_types.h"
#include "msl_vec.h"
