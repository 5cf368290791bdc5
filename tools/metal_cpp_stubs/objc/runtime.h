// Stand-in for the Objective-C runtime's declarations that metal-cpp uses.
#pragma once
#include <stddef.h>

typedef struct objc_class* Class;
struct objc_object {
  Class isa;
};
typedef struct objc_object* id;
typedef struct objc_selector* SEL;
typedef signed char BOOL;
#ifdef __cplusplus
class Protocol;
extern "C" {
#else
typedef struct objc_object Protocol;
#endif
Class objc_lookUpClass(const char* name);
Protocol* objc_getProtocol(const char* name);
SEL sel_registerName(const char* name);
#ifdef __cplusplus
}
#endif
