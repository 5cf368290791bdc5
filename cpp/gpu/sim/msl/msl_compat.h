// Force-included into every translated .metal file: the MSL vocabulary as C++17.
// The translator has already removed `kernel`, rewritten `constant`, threadgroup variables and
// function constants; what remains of MSL's syntax maps onto the definitions below.
#pragma once
#include "msl_atomic.h"
#include "msl_kernel_glue.h"
#include "msl_math.h"
#include "msl_simdgroup_matrix.h"
#include "msl_sync.h"
#include "msl_types.h"
#include "msl_vec.h"

// Address spaces: all memory is the CPU's, so they carry no meaning here.
#define device
#define thread
#define threadgroup
#define threadgroup_imageblock
#define ray_data
#define object_data
#define METAL_FUNC inline
#define METAL_CONST const
