// The data caches of the core the kernels run on, read once at run time. Blocking that was sized
// for one CPU's L2 spills on a CPU with a smaller one (an Ice Lake core has 1.25 MiB, a Sapphire
// Rapids core 2 MiB), so kernels size their blocks from these figures rather than from constants.
#pragma once
#include <cstddef>
#include <cstdlib>

#if defined(__linux__)
#include <unistd.h>
#elif defined(__APPLE__)
#include <sys/sysctl.h>
#include <sys/types.h>
#endif

namespace metalnn::cpu {

struct CacheSizes {
  std::size_t l1d;  // bytes per core
  std::size_t l2;   // bytes per core (on chips where a cluster shares L2, the cluster's share per core)
  std::size_t l3;   // bytes in all, 0 when there is none
};

namespace detail {

inline std::size_t cache_env(const char* name, std::size_t fallback) {
  const char* env = std::getenv(name);
  if (!env || !*env) return fallback;
  const long long v = std::atoll(env);
  return v > 0 ? static_cast<std::size_t>(v) : fallback;
}

inline CacheSizes read_cache_sizes() {
  // Typical of current x86 server cores, for systems that do not say.
  CacheSizes c{48u << 10, 1280u << 10, 0};
#if defined(__linux__) && defined(_SC_LEVEL2_CACHE_SIZE)
  const long l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE),
             l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (l1 > 0) c.l1d = static_cast<std::size_t>(l1);
  if (l2 > 0) c.l2 = static_cast<std::size_t>(l2);
  if (l3 > 0) c.l3 = static_cast<std::size_t>(l3);
#elif defined(__APPLE__)
  // Apple silicon shares a 4-16 MiB L2 per cluster of cores; count a quarter of it per core.
  auto get = [](const char* key) -> std::size_t {
    long long v = 0;
    std::size_t size = sizeof(v);
    return sysctlbyname(key, &v, &size, nullptr, 0) == 0 && v > 0 ? static_cast<std::size_t>(v) : 0;
  };
  if (std::size_t l1 = get("hw.l1dcachesize")) c.l1d = l1;
  if (std::size_t l2 = get("hw.l2cachesize")) c.l2 = l2 / 4;
#endif
  // Bounds keep a misreporting system (0, or a whole-chip figure) from producing absurd blocks.
  if (c.l1d < (16u << 10) || c.l1d > (256u << 10)) c.l1d = 48u << 10;
  if (c.l2 < (256u << 10) || c.l2 > (8u << 20)) c.l2 = 1280u << 10;
  // METALNN_L1D_BYTES / METALNN_L2_BYTES override the reading (tests run both blockings with them).
  c.l1d = cache_env("METALNN_L1D_BYTES", c.l1d);
  c.l2 = cache_env("METALNN_L2_BYTES", c.l2);
  return c;
}

}  // namespace detail

// Read once; the overrides are read with it, so set them before the first inference.
inline const CacheSizes& cache_sizes() {
  static const CacheSizes sizes = detail::read_cache_sizes();
  return sizes;
}

}  // namespace metalnn::cpu
