// Stand-in for IOSurface's opaque handle.
#pragma once

typedef struct __IOSurface* IOSurfaceRef;
