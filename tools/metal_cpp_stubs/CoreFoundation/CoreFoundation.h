// Stand-in for CoreFoundation.h: the types metal-cpp mentions, and the headers the real one brings
// in that metal-cpp relies on (math.h for INFINITY, libdispatch for dispatch_data_t).
#pragma once
#include <dispatch/dispatch.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

typedef double CFTimeInterval;
typedef const struct __CFString* CFStringRef;
