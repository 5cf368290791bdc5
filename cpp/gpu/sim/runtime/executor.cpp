// Threadgroup distribution over OS threads: see executor.h.
#include "executor.h"

#include <cstdlib>
#include <utility>

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
  try {
    for (uint64_t k = next_group_.fetch_add(1); k < group_count_; k = next_group_.fetch_add(1)) {
      runner.run(dispatch, uint32_t(dispatch.reverse_order ? group_count_ - 1 - k : k));
    }
  } catch (const KernelFault&) {
    next_group_ = group_count_;  // no further threadgroups start
    std::lock_guard<std::mutex> lock(mutex_);
    if (!fault_) fault_ = std::current_exception();
  }
}

void Executor::run(const DispatchDesc& dispatch) {
  std::lock_guard<std::mutex> one_at_a_time(run_mutex_);  // callers on several threads share the workers
  group_count_ = uint64_t(dispatch.threadgroups[0]) * dispatch.threadgroups[1] * dispatch.threadgroups[2];
  next_group_ = 0;
  fault_ = nullptr;
  auto rethrow_fault = [this] {
    if (fault_) std::rethrow_exception(std::exchange(fault_, nullptr));
  };
  if (workers_.empty() || group_count_ <= 1) {
    run_groups(dispatch);
    rethrow_fault();
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
  rethrow_fault();
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
