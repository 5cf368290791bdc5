// The metal-sim implementation of the GPU device interface: Metal kernels translated to C++ and run
// on CPU threads (see DESIGN.md, "The Metal simulator").
#pragma once
#include <memory>

#include "gpu/device.h"
#include "gpu/sim/kernel_registry.h"

namespace metalnn::gpu {

struct SimDeviceOptions {
  // OS threads running threadgroups; 0: METALNN_SIM_THREADS, else all cores.
  unsigned threads = 0;
  // Schedule threads and threadgroups last to first, to expose missing barriers and races.
  // Also switched on by METALNN_SIM_REVERSE=1.
  bool reverse_thread_order = false;
  // Run the race-check copies of kernels (see DESIGN.md, "The Metal simulator"): a data race in
  // threadgroup or device memory, or between two dispatches no barrier separates, is a DeviceError.
  // Also switched on by METALNN_SIM_RACECHECK=1.
  bool race_check = false;
  // Dispatches between two barriers of a command buffer may run in any order on a GPU: here they run
  // last to first (0), or shuffled by this seed. Also set by METALNN_SIM_DISPATCH_SEED.
  uint64_t dispatch_order_seed = 0;
  // A kernel fault (divergent barrier, deadlock, out-of-bounds access) makes commit_and_wait throw
  // DeviceError instead of aborting the process: for user kernels (metalnn.metal_kernel).
  bool recoverable_faults = false;
};

std::unique_ptr<Device> create_sim_device(const metal_sim::KernelLibrary& kernels = metal_sim::product_kernels(),
                                          const SimDeviceOptions& options = {});

}  // namespace metalnn::gpu
