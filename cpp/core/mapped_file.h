// A read-only memory mapping of a whole file, unmapped when the last owner lets go. Tensors that point
// into it hold a shared_ptr to it, so weights are read in place and paged in by the OS on first use.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace metalnn {

class MappedFile {
 public:
  // Throws ModelError naming the path when the file cannot be opened or mapped.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool contains(const void* p) const {
    auto* b = static_cast<const uint8_t*>(p);
    return b >= data_ && b < data_ + size_;
  }

 private:
  MappedFile(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  const uint8_t* data_;
  size_t size_;
};

}  // namespace metalnn
