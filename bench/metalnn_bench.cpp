// metalnn-bench: load a .metalnn model through the public C++ API and time it. Prints load time, first
// run, median / min / p90 latency, throughput, arena bytes and peak resident memory; --profile adds
// each step's median time and GFLOP/s (through the engine's internal profiler, core/profiler.h, as
// the public API has no profiling call).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/profiler.h"
#include "metalnn/metalnn.h"

namespace {

struct Options {
  std::string model, device = "cpu", precision = "float32";
  int batch = 0, threads = 0, warmup = 5, iters = 30;
  bool json = false, profile = false;
};

[[noreturn]] void usage(const char* error) {
  if (error) std::fprintf(stderr, "metalnn-bench: %s\n", error);
  std::fprintf(stderr,
               "usage: metalnn-bench MODEL.metalnn [--device cpu|metal|metal-sim] [--precision float32|float16]\n"
               "                     [--batch N] [--threads N] [--warmup N] [--iters N] [--json] [--profile]\n");
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage((a + " needs a value").c_str());
      return argv[++i];
    };
    auto number = [&]() {
      const std::string v = value();
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (*end || n < 0) usage((a + " needs a non-negative integer, got '" + v + "'").c_str());
      return static_cast<int>(n);
    };
    if (a == "--device") o.device = value();
    else if (a == "--precision") o.precision = value();
    else if (a == "--batch") o.batch = number();
    else if (a == "--threads") o.threads = number();
    else if (a == "--warmup") o.warmup = number();
    else if (a == "--iters") o.iters = std::max(1, number());
    else if (a == "--json") o.json = true;
    else if (a == "--profile") o.profile = true;
    else if (a == "-h" || a == "--help") usage(nullptr);
    else if (!a.empty() && a[0] == '-') usage(("unknown option " + a).c_str());
    else if (o.model.empty()) o.model = a;
    else usage("one model only");
  }
  if (o.model.empty()) usage("no model given");
  return o;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The q-quantile of sorted values, nearest rank.
double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t i = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return quantile(v, 0.5);
}

size_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
#if defined(__APPLE__)
  return static_cast<size_t>(usage.ru_maxrss);  // bytes on Darwin
#else
  return static_cast<size_t>(usage.ru_maxrss) * 1024;  // KiB on Linux
#endif
}

struct StepRow {
  std::string label, op_type;
  double ms, gflops, flops;
};

// Each step's median over the timed runs (the last `iters` records), slowest first.
std::vector<StepRow> profile_rows(int iters) {
  std::vector<StepRow> rows;
  for (const metalnn::StepProfile& s : metalnn::Profiler::global().steps()) {
    if (s.seconds.empty()) continue;
    const size_t n = std::min<size_t>(s.seconds.size(), static_cast<size_t>(iters));
    const double sec = median_of(std::vector<double>(s.seconds.end() - static_cast<std::ptrdiff_t>(n), s.seconds.end()));
    rows.push_back({s.label, s.op_type, sec * 1e3, sec > 0 ? s.flops / sec / 1e9 : 0, s.flops});
  }
  std::stable_sort(rows.begin(), rows.end(), [](const StepRow& a, const StepRow& b) { return a.ms > b.ms; });
  return rows;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  // Always on: the arena size comes from it, and two clock reads per step cost microseconds per run.
  metalnn::Profiler::global().set_enabled(true);

  try {
    metalnn::LoadOptions load_options;
    load_options.device = opt.device;
    load_options.precision = opt.precision;
    load_options.threads = opt.threads;
    auto t0 = std::chrono::steady_clock::now();
    metalnn::Network net = metalnn::Network::load(opt.model, load_options);
    const double load_s = seconds_since(t0);

    int batch = 1;
    if (!net.inputs().empty() && !net.inputs()[0].shape.empty()) batch = static_cast<int>(net.inputs()[0].shape[0]);
    if (opt.batch > 0 && opt.batch != batch) {
      std::fprintf(stderr, "metalnn-bench: %s has batch %d (shapes are fixed in a .metalnn file); convert it at batch %d\n",
                   opt.model.c_str(), batch, opt.batch);
      return 2;
    }
    // Inputs: seeded normal noise for floats, zeros otherwise.
    std::vector<std::vector<unsigned char>> in_bufs, out_bufs;
    std::mt19937 rng(0);
    std::normal_distribution<float> normal;
    for (const metalnn::TensorDesc& d : net.inputs()) {
      in_bufs.emplace_back(d.byte_size());
      if (d.type == metalnn::ElementType::Float32) {
        float* p = reinterpret_cast<float*>(in_bufs.back().data());
        for (int64_t i = 0; i < d.element_count(); ++i) p[i] = normal(rng);
      }
    }
    for (const metalnn::TensorDesc& d : net.outputs()) out_bufs.emplace_back(d.byte_size());
    std::vector<const void*> ins;
    std::vector<void*> outs;
    for (auto& b : in_bufs) ins.push_back(b.data());
    for (auto& b : out_bufs) outs.push_back(b.data());

    t0 = std::chrono::steady_clock::now();
    net.run(ins, outs);
    const double first_s = seconds_since(t0);
    for (int i = 0; i < opt.warmup; ++i) net.run(ins, outs);
    std::vector<double> times;
    for (int i = 0; i < opt.iters; ++i) {
      t0 = std::chrono::steady_clock::now();
      net.run(ins, outs);
      times.push_back(seconds_since(t0) * 1e3);
    }
    std::sort(times.begin(), times.end());
    const double median = quantile(times, 0.5), p90 = quantile(times, 0.9);
    const double throughput = batch / (median / 1e3);
    const size_t arena = metalnn::Profiler::global().arena_bytes();
    const size_t rss = peak_rss_bytes();
    const std::vector<StepRow> steps = opt.profile ? profile_rows(opt.iters) : std::vector<StepRow>{};

    if (opt.json) {
      std::printf("{\"model\": \"%s\", \"device\": \"%s\", \"precision\": \"%s\", \"batch\": %d, \"iters\": %d,\n",
                  json_escape(opt.model).c_str(), net.device().c_str(), opt.precision.c_str(), batch, opt.iters);
      std::printf(" \"load_ms\": %.3f, \"first_run_ms\": %.3f, \"median_ms\": %.3f, \"min_ms\": %.3f, \"p90_ms\": %.3f,\n",
                  load_s * 1e3, first_s * 1e3, median, times.front(), p90);
      std::printf(" \"throughput_per_s\": %.2f, \"peak_rss_bytes\": %zu, \"arena_bytes\": %zu", throughput, rss,
                  arena);
      if (opt.profile) {
        std::printf(",\n \"steps\": [");
        for (size_t i = 0; i < steps.size(); ++i)
          std::printf("%s\n  {\"step\": \"%s\", \"op\": \"%s\", \"median_ms\": %.4f, \"gflop\": %.4f, \"gflops\": %.2f}",
                      i ? "," : "", json_escape(steps[i].label).c_str(), steps[i].op_type.c_str(), steps[i].ms,
                      steps[i].flops / 1e9, steps[i].gflops);
        std::printf("]");
      }
      std::printf("}\n");
      return 0;
    }
    std::printf("model        %s (%s, %s, batch %d)\n", opt.model.c_str(), net.device().c_str(), opt.precision.c_str(),
                batch);
    std::printf("load         %.2f ms\nfirst run    %.2f ms\n", load_s * 1e3, first_s * 1e3);
    std::printf("latency      median %.3f ms, min %.3f ms, p90 %.3f ms (%d runs after %d warm-up)\n", median,
                times.front(), p90, opt.iters, opt.warmup);
    std::printf("throughput   %.1f inferences/s\n", throughput);
    std::printf("arena        %.2f MiB%s\n", static_cast<double>(arena) / (1 << 20),
                arena ? "" : " (not reported by this device)");
    std::printf("peak RSS     %.1f MiB\n", static_cast<double>(rss) / (1 << 20));
    if (opt.profile) {
      double total = 0, flops = 0;
      std::map<std::string, double> by_op;
      for (const StepRow& s : steps) {
        total += s.ms;
        flops += s.flops;
        by_op[s.op_type] += s.ms;
      }
      std::printf("\nsteps (median ms, slowest first): sum %.3f ms, %.2f GFLOP, %.1f GFLOP/s overall\n", total,
                  flops / 1e9, total > 0 ? flops / (total / 1e3) / 1e9 : 0);
      std::printf("%10s %6s %9s  %s\n", "ms", "%", "GFLOP/s", "step");
      for (const StepRow& s : steps)
        std::printf("%10.3f %5.1f%% %9s  %s\n", s.ms, 100 * s.ms / total,
                    s.flops > 0 ? std::to_string(static_cast<int>(s.gflops + 0.5)).c_str() : "", s.label.c_str());
      std::printf("\nby op type:\n");
      std::vector<std::pair<double, std::string>> ops;
      for (auto& [op, ms] : by_op) ops.push_back({ms, op});
      std::sort(ops.rbegin(), ops.rend());
      for (auto& [ms, op] : ops) std::printf("%10.3f %5.1f%%  %s\n", ms, 100 * ms / total, op.c_str());
    }
  } catch (const metalnn::NetworkError& e) {
    std::fprintf(stderr, "metalnn-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
