// The `metal` device: cpp/gpu/device.h implemented with metal-cpp over the metallib built from
// metal/*.metal and embedded in the library. Compiled on Apple platforms only (cmake/metal.cmake).
#pragma once
#include <memory>
#include <string>

#include "gpu/device.h"

namespace metalnn::gpu {

// The system's default Metal GPU. Throws metalnn::DeviceError saying why it cannot be used: no
// Metal GPU, a GPU older than MTLGPUFamilyApple7, or a metallib that does not load.
std::unique_ptr<Device> create_metal_device();

// The same GPU with the kernels of MSL `source` (newLibrary(source), metalnn.metal_kernel) instead of
// the metallib. Throws KernelSourceError with the compiler's messages when the source does not compile.
std::unique_ptr<Device> create_metal_device(const std::string& source);

}  // namespace metalnn::gpu
