// Recognises models of Alibaba's MNN engine, whose files also end in .mnn, so that loading one gives a
// clear error instead of a complaint about magic bytes.
#pragma once
#include <cstddef>
#include <cstdint>

namespace metalnn {

// True when the block is laid out like an MNN model: a FlatBuffers buffer (MNN's schema declares no
// file identifier) whose root table has a consistent vtable and a non-empty `oplists` vector.
bool looks_like_alibaba_mnn(const uint8_t* data, size_t size);

inline constexpr const char* kAlibabaMnnMessage = "this is an MNN model (Alibaba MNN), not a metalnn model";

}  // namespace metalnn
