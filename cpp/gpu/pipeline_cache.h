// Compute pipelines keyed by kernel name + function-constant values. Filled while a model compiles;
// a run only looks pipelines up, so no pipeline is ever built during an inference.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "gpu/device.h"

namespace metalnn::gpu {

class PipelineCache {
 public:
  explicit PipelineCache(Device& device) : device_(device) {}
  // The pipeline for `kernel` and `constants`, built on first request.
  std::shared_ptr<Pipeline> get(const std::string& kernel, const FunctionConstants& constants = {});

 private:
  Device& device_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Pipeline>> pipelines_;
};

}  // namespace metalnn::gpu
