// Force-included instead of msl_compat.h into the race-check copy of a translated .metal file. That
// copy is compiled with ThreadSanitizer's instrumentation (racecheck_flags() in msl_translator), so
// every load and store calls a __tsan_* function, which metal-sim's race checker implements
// (runtime/race_checker.cpp; no TSan runtime is linked). The MSL vocabulary moves to its own
// namespace here, so its inline functions never merge with the plain copy's at link time.
#pragma once
#define METAL_SIM_RACECHECK 1
#define metal metal_racecheck
#include "msl_compat.h"
