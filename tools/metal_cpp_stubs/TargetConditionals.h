// Stand-in for Apple's TargetConditionals.h: macOS unless the check defines TARGET_OS_OSX=0 (iOS).
#pragma once
#ifndef TARGET_OS_OSX
#define TARGET_OS_OSX 1
#endif
#define TARGET_OS_MAC 1
#define TARGET_OS_IPHONE (!TARGET_OS_OSX)
#define TARGET_OS_IOS (!TARGET_OS_OSX)
