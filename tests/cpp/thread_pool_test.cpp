// The CPU thread pool: every index runs exactly once whatever the split, regions from several
// threads are serialised, workers that went to sleep wake for the next region, a region does not
// wait for workers that were slow to wake for an earlier one, and a pool can be destroyed with
// sleeping workers.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "cpu/thread_pool.h"

namespace metalnn::cpu {
namespace {

// Runs one region over [0, n) and checks each index was visited once, in chunks of >= grain.
void expect_each_index_once(ThreadPool& pool, int64_t n, int64_t grain) {
  std::vector<std::atomic<int>> visits(static_cast<size_t>(n));
  std::atomic<int64_t> smallest_chunk{n};
  pool.parallel_for(n, grain, [&](int64_t begin, int64_t end) {
    ASSERT_LT(begin, end);
    int64_t size = end - begin, seen = smallest_chunk.load();
    while (size < seen && !smallest_chunk.compare_exchange_weak(seen, size)) {
    }
    for (int64_t i = begin; i < end; ++i) visits[static_cast<size_t>(i)].fetch_add(1);
  });
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(visits[static_cast<size_t>(i)].load(), 1) << "index " << i << " of " << n;
  // Chunks are at least `grain` long unless the whole range is shorter than two grains.
  if (n >= 2 * grain) EXPECT_GE(smallest_chunk.load(), grain) << "n " << n << " grain " << grain;
}

TEST(ThreadPool, EveryIndexOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 3, 7, 64, 1000, 4097})
      for (int64_t grain : {1, 5, 100}) expect_each_index_once(pool, n, grain);
  }
}

TEST(ThreadPool, EmptyRangeRunsNothing) {
  ThreadPool pool(4);
  bool called = false;
  pool.parallel_for(0, 1, [&](int64_t, int64_t) { called = true; });
  EXPECT_FALSE(called);
}

TEST(ThreadPool, WorkersWakeAfterSleeping) {
  ThreadPool pool(3);
  for (int round = 0; round < 3; ++round) {
    // Longer than any spin, so the workers are asleep when the next region starts.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    expect_each_index_once(pool, 999, 1);
  }
}

TEST(ThreadPool, RegionsFromSeveralThreadsAreSerialised) {
  ThreadPool pool(2);
  std::atomic<int> inside{0}, overlaps{0};
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] {
      for (int r = 0; r < 200; ++r)
        pool.parallel_for(64, 1, [&](int64_t begin, int64_t end) {
          total.fetch_add(end - begin);
          if (inside.fetch_add(1) >= pool.num_threads()) overlaps.fetch_add(1);
          inside.fetch_sub(1);
        });
    });
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(total.load(), 4 * 200 * 64);
  EXPECT_EQ(overlaps.load(), 0);  // never more chunks at once than one region has threads
}

// More threads than cores: most regions end before some workers are scheduled, and those workers then
// wake into a later region (or a finished one). Every index must still run exactly once, and each
// region must see only its own job.
TEST(ThreadPool, LateWorkersNeverRunAFinishedRegion) {
  ThreadPool pool(8);
  for (int round = 0; round < 2000; ++round) {
    const int64_t n = 2 + round % 13;
    std::vector<std::atomic<int>> visits(static_cast<size_t>(n));
    pool.parallel_for(n, 1, [&, n](int64_t begin, int64_t end) {
      ASSERT_LE(end, n);
      for (int64_t i = begin; i < end; ++i) visits[static_cast<size_t>(i)].fetch_add(1);
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(visits[static_cast<size_t>(i)].load(), 1) << "round " << round;
  }
}

TEST(ThreadPool, DestroyedWithSleepingWorkers) {
  for (int i = 0; i < 5; ++i) {
    ThreadPool pool(4);
    expect_each_index_once(pool, 100, 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace
}  // namespace metalnn::cpu
