// Pools of worker threads kept for the process, one per thread count; kernels split work with
// parallel_for.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace metalnn::cpu {

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Calls fn(begin, end) over [0, n) split into contiguous chunks of at least `grain` items, at most
  // one chunk per thread, the calling thread included; a chunk may run on any thread. Calls from
  // several threads are serialised.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // The process's default pool: default_threads() threads.
  static ThreadPool& global();
  // The process-wide pool of `num_threads` threads (created at first use, kept until exit), for
  // models loaded with their own thread count.
  static ThreadPool& shared(int num_threads);
  // METALNN_NUM_THREADS, else the hardware concurrency, until set_default_threads() changes it;
  // runs that start afterwards use the new count.
  static int default_threads();
  static void set_default_threads(int num_threads);

 private:
  void worker_loop();
  void work_on_job(uint64_t generation);  // claims and runs that region's chunks until none are left
  void notify_caller();
  template <class Predicate>
  void wait(Predicate ready);  // the caller's wait: spin, then sleep on done_

  int num_threads_;
  std::vector<std::thread> workers_;
  std::mutex region_mutex_;  // one parallel region at a time
  // Workers spin on generation_ for a while after each job, then sleep on wake_; the caller spins on
  // done_chunks_, then sleeps on done_.
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  int sleepers_ = 0;  // guarded by mutex_
  // The current region. Its fields are read by workers that may wake late, so they are atomics, and
  // a chunk is claimed by advancing state_ = generation << 32 | chunks << 16 | next unclaimed chunk.
  std::atomic<const std::function<void(int64_t, int64_t)>*> job_{nullptr};
  std::atomic<int64_t> job_n_{0};
  std::atomic<uint64_t> state_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> done_chunks_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace metalnn::cpu
