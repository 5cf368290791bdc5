// MSIM_ASAN is defined when this translation unit is built with AddressSanitizer (GCC or clang), and
// the sanitizer's interface is included: fiber stacks and buffer tails tell it what they are.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define MSIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MSIM_ASAN 1
#endif
#endif
#ifdef MSIM_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
