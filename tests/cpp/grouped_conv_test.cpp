// The grouped-convolution kernel reads no float outside its input: each input is placed against an
// inaccessible page (after its last float, then before its first), where a stray read would fault,
// and the output must match the same convolution of an ordinary copy. Values against ONNX Runtime
// are tested in tests/python/test_conv.py.
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "cpu/grouped_conv.h"

namespace metalnn::cpu {
namespace {

// n floats whose first or last one borders a page that may not be read.
class GuardedFloats {
 public:
  GuardedFloats(size_t n, bool at_end) {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t data = (n * sizeof(float) + page_ - 1) / page_ * page_;
    size_ = data + 2 * page_;
    void* base = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(base, MAP_FAILED);
    base_ = static_cast<char*>(base);
    mprotect(base_, page_, PROT_NONE);
    mprotect(base_ + page_ + data, page_, PROT_NONE);
    floats_ = reinterpret_cast<float*>(at_end ? base_ + page_ + data - n * sizeof(float) : base_ + page_);
  }
  ~GuardedFloats() { munmap(base_, size_); }
  float* data() { return floats_; }

 private:
  size_t page_, size_;
  char* base_;
  float* floats_;
};

struct Case {
  int64_t batch, channels, groups, out_channels;
  Window2d win;
};

void check(const Case& p) {
  const Window2d& w = p.win;
  const size_t in = static_cast<size_t>(p.batch * p.channels * w.in_size());
  const int64_t weights = p.out_channels * (p.channels / p.groups) * w.kernel_size();
  std::vector<float> x(in), wt(static_cast<size_t>(weights)), bias(static_cast<size_t>(p.out_channels));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 13) * 0.25f - 1.f;
  for (size_t i = 0; i < wt.size(); ++i) wt[i] = float(i % 7) * 0.5f - 1.5f;
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = float(i % 5) - 2.f;
  ASSERT_TRUE(GroupedConv::suits(w, p.groups, p.channels, p.out_channels));
  const GroupedConv conv(w, p.groups, p.channels, p.out_channels, wt.data());
  const size_t out = static_cast<size_t>(p.batch * p.out_channels * w.out_size());
  std::vector<float> expected(out), actual(out);
  ThreadPool& pool = ThreadPool::global();
  conv.run(x.data(), wt.data(), bias.data(), expected.data(), p.batch, Activation{}, pool);
  for (const bool at_end : {true, false}) {
    GuardedFloats guarded(in, at_end);
    std::memcpy(guarded.data(), x.data(), in * sizeof(float));
    conv.run(guarded.data(), wt.data(), bias.data(), actual.data(), p.batch, Activation{}, pool);
    EXPECT_EQ(actual, expected) << (at_end ? "input before a guard page" : "input after a guard page");
  }
}

// {in_h, in_w, out_h, out_w, kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, pad_top,
// pad_left, pad_bottom, pad_right}
TEST(GroupedConv, ReadsOnlyItsInput) {
  check({2, 16, 2, 16, {14, 14, 7, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1}});  // stride 2, even width
  check({1, 24, 3, 15, {13, 15, 7, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1}});  // stride 2, odd width
  check({1, 16, 2, 8, {15, 37, 8, 19, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1}});  // several vectors a row
  check({1, 8, 2, 6, {11, 16, 4, 6, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1}});  // stride 3 (gathers)
  check({2, 16, 2, 24, {7, 7, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}});  // stride 1
  check({1, 16, 4, 8, {9, 10, 7, 8, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0}});  // no padding
  check({1, 12, 3, 9, {12, 20, 3, 7, 3, 3, 3, 3, 2, 2, 1, 2, 0, 1}});  // dilated, asymmetric
  check({2, 8, 2, 6, {1, 31, 1, 16, 1, 5, 1, 2, 1, 1, 0, 2, 0, 2}});  // 1-D
}

}  // namespace
}  // namespace metalnn::cpu
