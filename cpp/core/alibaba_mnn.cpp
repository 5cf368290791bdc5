#include "core/alibaba_mnn.h"

#include <cstring>

namespace metalnn {

namespace {

template <typename T>
bool read_at(const uint8_t* data, size_t size, uint64_t offset, T& out) {
  if (offset > size || sizeof(T) > size - offset) return false;
  std::memcpy(&out, data + offset, sizeof(T));
  return true;
}

// A FlatBuffers vector at `slot` (a uoffset field): inside the block, 4-byte aligned, with at least
// `min_count` elements of `element_size` bytes that also fit.
bool vector_at(const uint8_t* data, size_t size, uint64_t slot, uint32_t element_size, uint32_t min_count) {
  uint32_t relative = 0, count = 0;
  if (!read_at(data, size, slot, relative) || relative == 0) return false;
  const uint64_t start = slot + relative;
  if (start % 4 != 0 || !read_at(data, size, start, count) || count < min_count) return false;
  return uint64_t{count} * element_size <= size - start - 4;
}

}  // namespace

bool looks_like_alibaba_mnn(const uint8_t* data, size_t size) {
  // MNN.fbs: `table Net { bizCode; extraTensorDescribe; gpulibrary; oplists; ... }`, `root_type Net`.
  constexpr uint32_t kOplistsField = 3, kTensorNameField = 7, kMaxFields = 32;
  uint32_t root = 0;
  int32_t to_vtable = 0;
  if (!read_at(data, size, 0, root) || root < 8 || root % 4 != 0) return false;
  if (!read_at(data, size, root, to_vtable)) return false;
  const int64_t vtable = static_cast<int64_t>(root) - to_vtable;
  uint16_t vtable_size = 0, table_size = 0;
  if (vtable < 4 || vtable % 2 != 0 || !read_at(data, size, static_cast<uint64_t>(vtable), vtable_size) ||
      !read_at(data, size, static_cast<uint64_t>(vtable) + 2, table_size))
    return false;
  const uint32_t fields = vtable_size >= 4 ? (vtable_size - 4u) / 2 : 0;
  if (vtable_size % 2 != 0 || fields <= kOplistsField || fields > kMaxFields || table_size < 8 ||
      uint64_t{root} + table_size > size)
    return false;
  uint16_t field_offset[kMaxFields] = {};
  for (uint32_t i = 0; i < fields; ++i) {
    if (!read_at(data, size, static_cast<uint64_t>(vtable) + 4 + 2 * i, field_offset[i])) return false;
    if (field_offset[i] != 0 && (field_offset[i] < 4 || field_offset[i] >= table_size)) return false;
  }
  if (field_offset[kOplistsField] == 0 ||
      !vector_at(data, size, uint64_t{root} + field_offset[kOplistsField], 4, 1))
    return false;
  return fields <= kTensorNameField || field_offset[kTensorNameField] == 0 ||
         vector_at(data, size, uint64_t{root} + field_offset[kTensorNameField], 4, 0);
}

}  // namespace metalnn
