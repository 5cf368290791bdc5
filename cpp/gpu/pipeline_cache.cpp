#include "gpu/pipeline_cache.h"

namespace metalnn::gpu {

std::shared_ptr<Pipeline> PipelineCache::get(const std::string& kernel, const FunctionConstants& constants) {
  const std::string key = kernel + "|" + constants.key();
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = pipelines_.find(key);
  if (it != pipelines_.end()) return it->second;
  auto pipeline = device_.new_pipeline(kernel, constants);
  pipelines_.emplace(key, pipeline);
  return pipeline;
}

}  // namespace metalnn::gpu
