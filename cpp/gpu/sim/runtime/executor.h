// Executes dispatches: threadgroups spread over a few persistent OS threads, each running whole
// threadgroups with its own ThreadgroupRunner (threadgroups never share memory, so no locking).
#pragma once
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "threadgroup_runner.h"

namespace metal_sim {

class Executor {
 public:
  // threads = 0: METALNN_SIM_THREADS from the environment, else the hardware concurrency.
  explicit Executor(unsigned threads = 0);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  unsigned threads() const { return unsigned(workers_.size()) + 1; }
  // Runs every threadgroup of the dispatch; returns when all have finished. A KernelFault of one
  // threadgroup (dispatch.throw_faults) stops the others from starting and is rethrown here.
  void run(const DispatchDesc& dispatch);

 private:
  void worker_loop();
  void run_groups(const DispatchDesc& dispatch);

  std::mutex run_mutex_;  // one dispatch at a time
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable finished_;
  const DispatchDesc* job_ = nullptr;
  uint64_t job_generation_ = 0;
  unsigned busy_workers_ = 0;
  bool stopping_ = false;
  std::atomic<uint64_t> next_group_{0};
  uint64_t group_count_ = 0;
  std::exception_ptr fault_;  // the first fault of the running dispatch, under mutex_
};

}  // namespace metal_sim
