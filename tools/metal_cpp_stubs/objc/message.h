// Stand-in for the Objective-C message-send entry points metal-cpp casts to typed function pointers.
#pragma once
#include <objc/runtime.h>

#ifdef __cplusplus
extern "C" {
#endif
void objc_msgSend(void);
void objc_msgSend_stret(void);
void objc_msgSend_fpret(void);
#ifdef __cplusplus
}
#endif
