// The GPU devices of this build ("metal" on Apple with a Metal GPU, "metal-sim" everywhere): one
// shared device and pipeline cache each, created on first use, and compilation onto them.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/evaluator.h"
#include "core/executable.h"
#include "gpu/device.h"
#include "gpu/pipeline_cache.h"

namespace metalnn::gpu {

// GPU devices usable on this machine, best first.
std::vector<std::string> gpu_device_names();
// Why `name` ("metal" or "metal-sim") is unavailable, or "" when it is available.
std::string gpu_unavailable_reason(const std::string& name);
// The shared device called `name`; throws DeviceError when unavailable.
std::shared_ptr<Device> gpu_device(const std::string& name);
// The pipeline cache of that device, which every model compiled for it shares.
PipelineCache& gpu_pipelines(const std::string& name);
// Compiles `g` for `device`; `evaluator` runs the nodes whose outputs are known at load.
std::unique_ptr<Executable> compile_gpu(const Graph& g, const std::string& device, const std::string& precision,
                                        const NodeEvaluator& evaluator);
// Kernel host names that the executables compiled in this process dispatch (recorded at compile,
// never on the run path; for the tests' kernel-coverage check).
std::vector<std::string> compiled_kernels();

}  // namespace metalnn::gpu
