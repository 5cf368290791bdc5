// The `metal` device: cpp/gpu/device.h implemented with metal-cpp over the metallib built from
// metal/*.metal and embedded in the library. Compiled on Apple platforms only (cmake/metal.cmake).
#pragma once
#include <memory>

#include "gpu/device.h"

namespace metalnn::gpu {

// The system's default Metal GPU, or nullptr when the machine has none.
std::unique_ptr<Device> create_metal_device();

}  // namespace metalnn::gpu
