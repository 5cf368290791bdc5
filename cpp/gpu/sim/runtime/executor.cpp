// Threadgroup distribution over OS threads: see executor.h.
#include "executor.h"

#include <cstdlib>

namespace metal_sim {

Executor::Executor(unsigned threads) {
  if (threads == 0) {
    const char* env = std::getenv("METALNN_SIM_THREADS");
    threads = env ? unsigned(std::atoi(env)) : std::thread::hardware_concurrency();
  }
  if (threads == 0) threads = 1;
  for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

Executor::~Executor() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void Executor::run_groups(const DispatchDesc& dispatch) {
  ThreadgroupRunner& runner = ThreadgroupRunner::for_this_thread();
  for (uint64_t k = next_group_.fetch_add(1); k < group_count_; k = next_group_.fetch_add(1)) {
    runner.run(dispatch, uint32_t(dispatch.reverse_order ? group_count_ - 1 - k : k));
  }
}

void Executor::run(const DispatchDesc& dispatch) {
  group_count_ = uint64_t(dispatch.threadgroups[0]) * dispatch.threadgroups[1] * dispatch.threadgroups[2];
  next_group_ = 0;
  if (workers_.empty() || group_count_ <= 1) {
    run_groups(dispatch);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &dispatch;
    ++job_generation_;
    busy_workers_ = unsigned(workers_.size());
  }
  wake_.notify_all();
  run_groups(dispatch);
  std::unique_lock<std::mutex> lock(mutex_);
  finished_.wait(lock, [this] { return busy_workers_ == 0; });
  job_ = nullptr;
}

void Executor::worker_loop() {
  uint64_t seen_generation = 0;
  for (;;) {
    const DispatchDesc* job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || job_generation_ != seen_generation; });
      if (stopping_) return;
      seen_generation = job_generation_;
      job = job_;
    }
    run_groups(*job);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --busy_workers_;
    }
    finished_.notify_one();
  }
}

}  // namespace metal_sim
