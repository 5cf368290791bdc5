#include "cpu/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#if defined(__linux__)
#include <fcntl.h>
#include <unistd.h>
#endif

namespace metalnn::cpu {

namespace {

// How long a thread busy-waits before it sleeps, while no other work wants the cores: a network's
// layers follow each other within microseconds, and waking a sleeping thread (on a VM, its idle
// virtual CPU) can cost more than a small layer takes. The caller, which has nothing else to do
// meanwhile, waits longer.
constexpr auto kWorkerSpin = std::chrono::microseconds(200);
constexpr auto kCallerSpin = std::chrono::microseconds(500);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Whether more threads are runnable than there are cores (Linux: /proc/loadavg's running count, read
// at most every 50 ms). Then a busy-wait only takes a core from a thread with work to do, often one
// of this pool's own, so threads wait asleep instead.
bool cores_contended() {
#if defined(__linux__)
  static std::atomic<int64_t> next_check{0};
  static std::atomic<bool> contended{false};
  static const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch()).count();
  int64_t due = next_check.load(std::memory_order_relaxed);
  if (now < due || !next_check.compare_exchange_strong(due, now + 50, std::memory_order_relaxed))
    return contended.load(std::memory_order_relaxed);
  char text[128] = {};
  const int fd = ::open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const ssize_t n = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  // "0.52 0.58 0.59 3/612 12345": the fourth field is runnable/total scheduling entities.
  long running = 0;
  if (n > 0 && std::sscanf(text, "%*f %*f %*f %ld/", &running) == 1)
    contended.store(cores > 0 && running > cores, std::memory_order_relaxed);
  return contended.load(std::memory_order_relaxed);
#else
  return false;
#endif
}

std::chrono::microseconds spin_limit(std::chrono::microseconds quiet) {
  return cores_contended() ? std::chrono::microseconds(0) : quiet;
}

// Busy-waits for done() up to `limit`; true if done. Never yields: a waiting thread that yields keeps
// sharing its core with the thread it waits for, and the scheduler is then slow to move either.
template <class Done>
bool spin_until(Done done, std::chrono::microseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() > deadline) return done();
  }
}

}  // namespace

// Workers are never pinned to cores: on a busy machine a pinned worker waits for its one core while
// another sits free, and the region waits with it.
ThreadPool::ThreadPool(int num_threads) : num_threads_(std::max(1, num_threads)) {
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true, std::memory_order_release);
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::work_on_job(uint64_t generation) {
  for (;;) {
    uint64_t state = state_.load(std::memory_order_acquire);
    if (state >> 32 != (generation & 0xffffffffu)) return;  // a later region has begun: not ours to run
    // The chunk count travels in the state word itself: read from the job fields, it could already
    // be the next region's while this one's last chunk is claimed.
    const int chunk = static_cast<int>(state & 0xffffu), chunks = static_cast<int>(state >> 16 & 0xffffu);
    if (chunk >= chunks) return;
    const int64_t n = job_n_.load(std::memory_order_relaxed);
    const std::function<void(int64_t, int64_t)>* job = job_.load(std::memory_order_relaxed);
    // The claim succeeds only while this region still has the chunk unclaimed, so the region cannot
    // have ended and the fields read above are still its own.
    if (!state_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel)) continue;
    const int64_t begin = n * chunk / chunks, end = n * (chunk + 1) / chunks;
    if (begin < end) (*job)(begin, end);
    if (done_chunks_.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) notify_caller();
  }
}

void ThreadPool::notify_caller() {
  std::lock_guard<std::mutex> lock(mutex_);
  done_.notify_all();
}

template <class Predicate>
void ThreadPool::wait(Predicate ready) {
  if (spin_until(ready, spin_limit(kCallerSpin))) return;
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, ready);
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    auto has_work = [&] {
      return stop_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen;
    };
    if (!spin_until(has_work, spin_limit(kWorkerSpin))) {
      std::unique_lock<std::mutex> lock(mutex_);
      ++sleepers_;
      wake_.wait(lock, has_work);
      --sleepers_;
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    work_on_job(seen);
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  int64_t max_chunks = std::max<int64_t>(1, n / std::max<int64_t>(1, grain));
  int chunks = static_cast<int>(std::min<int64_t>({num_threads_, max_chunks, 0xffff}));
  if (chunks == 1) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> region(region_mutex_);
  // A worker that has not woken for the previous region yet does not hold this one up: it will find
  // that region's chunks gone (or a newer generation) and wait again.
  const uint64_t generation = generation_.load(std::memory_order_relaxed) + 1;
  job_.store(&fn, std::memory_order_relaxed);
  job_n_.store(n, std::memory_order_relaxed);
  done_chunks_.store(0, std::memory_order_relaxed);
  state_.store((generation & 0xffffffffu) << 32 | static_cast<uint64_t>(chunks) << 16,
               std::memory_order_release);  // publishes the fields above
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.store(generation, std::memory_order_release);
    if (sleepers_ > 0) wake_.notify_all();
  }
  // Chunks are claimed, not assigned: if a worker is slow to start, the caller runs its chunk too.
  work_on_job(generation);
  wait([this, chunks] { return done_chunks_.load(std::memory_order_acquire) == chunks; });
}

namespace {

std::atomic<int>& default_thread_count() {
  static std::atomic<int> count([] {
    if (const char* env = std::getenv("METALNN_NUM_THREADS")) {
      int n = std::atoi(env);
      if (n > 0) return n;
    }
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }());
  return count;
}

}  // namespace

int ThreadPool::default_threads() { return default_thread_count().load(std::memory_order_relaxed); }

void ThreadPool::set_default_threads(int num_threads) {
  default_thread_count().store(std::max(1, num_threads), std::memory_order_relaxed);
}

ThreadPool& ThreadPool::global() { return shared(default_threads()); }

ThreadPool& ThreadPool::shared(int num_threads) {
  // Pools are never destroyed before exit, so a reference handed out stays valid for every run.
  static std::mutex mutex;
  static std::map<int, std::unique_ptr<ThreadPool>> pools;
  num_threads = std::max(1, num_threads);
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<ThreadPool>& pool = pools[num_threads];
  if (!pool) pool = std::make_unique<ThreadPool>(num_threads);
  return *pool;
}

}  // namespace metalnn::cpu
