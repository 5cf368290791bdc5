// metal-cpp's definitions (its Objective-C selectors and classes), which exactly one object of a
// program must hold. cmake/metal.cmake compiles this file into the library unless
// METALNN_METAL_CPP_IMPLEMENTATION is OFF, for apps whose own code defines them (README, "Apps that
// use metal-cpp themselves").
#define NS_PRIVATE_IMPLEMENTATION
#define MTL_PRIVATE_IMPLEMENTATION
#include <Foundation/Foundation.hpp>
#include <Metal/Metal.hpp>
