#include "core/model_file_reader.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <set>
#include <vector>

#include "core/error.h"
#include "core/graph_checks.h"
#include "core/mapped_file.h"
#include "core/alibaba_mnn.h"
#include "core/model_file_format.h"

namespace metalnn {

namespace {

// A bounds-checked read position inside [begin, end) of the image. `where` names the record being
// read so errors say "node 3 'conv1': attribute 'pads': ..." plus the byte offset.
class Cursor {
 public:
  Cursor(const uint8_t* base, uint64_t begin, uint64_t end, const std::string& source)
      : base_(base), pos_(begin), end_(end), source_(source) {}

  uint64_t left() const { return end_ - pos_; }
  bool at_end() const { return pos_ == end_; }
  std::string where;

  template <typename T>
  T get(const char* what) {
    if (left() < sizeof(T))
      fail(std::string(what) + " needs " + std::to_string(sizeof(T)) + " bytes, " + std::to_string(left()) +
           " left in the graph section");
    T v;
    std::memcpy(&v, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  // A u32 count of items each at least `min_item_bytes` long; capped by the bytes left, so a hostile
  // count can never make the reader allocate more than the file could describe.
  uint32_t count(uint64_t min_item_bytes, const char* what) {
    uint32_t n = get<uint32_t>(what);
    if (n * min_item_bytes > left())
      fail(std::string(what) + " is " + std::to_string(n) + ", more than the " + std::to_string(left()) +
           " bytes left in the graph section can hold");
    return n;
  }

  std::string str(const char* what) {
    uint32_t n = count(1, what);
    std::string s(reinterpret_cast<const char*>(base_ + pos_), n);
    pos_ += n;
    return s;
  }

  [[noreturn]] void fail(const std::string& msg) const {
    throw ModelError(source_ + ": " + where + msg + " (graph section, byte " + std::to_string(pos_) + ")");
  }

 private:
  const uint8_t* base_;
  uint64_t pos_, end_;
  const std::string& source_;
};

bool known_dtype(int32_t d) {
  switch (static_cast<DType>(d)) {
    case DType::Float32: case DType::UInt8: case DType::Int8: case DType::Int32:
    case DType::Int64: case DType::Bool: case DType::Float16: return true;
    case DType::Undefined: break;
  }
  return false;
}

// Names in error context are cut short so a hostile name cannot make every message huge.
std::string quoted(const std::string& name) {
  return "'" + (name.size() > 64 ? name.substr(0, 64) + "..." : name) + "'";
}

struct Blob {
  uint64_t offset, size;  // offset from the start of the data section
};

class ModelFileReader {
 public:
  ModelFileReader(const uint8_t* data, size_t size, std::shared_ptr<const void> owner, const std::string& source)
      : data_(data), size_(size), owner_(std::move(owner)), source_(source) {}

  Graph read() {
    read_header();
    Cursor c(data_, h_.graph_offset, h_.graph_offset + h_.graph_size, source_);
    read_blobs(c);
    read_body(c, g_, 0);
    c.where.clear();
    if (!c.at_end()) c.fail(std::to_string(c.left()) + " unused bytes at the end");
    check_graph_structure(g_, source_);
    return std::move(g_);
  }

 private:
  [[noreturn]] void fail_header(const std::string& msg) const { throw ModelError(source_ + ": header: " + msg); }

  void read_header() {
    if (!is_model_file(data_, size_) && looks_like_alibaba_mnn(data_, size_))
      throw ModelError(source_ + ": " + kAlibabaMnnMessage);
    if (size_ < model_file::kHeaderSize)
      fail_header("the file is " + std::to_string(size_) + " bytes, shorter than the 64-byte header");
    std::memcpy(&h_, data_, sizeof h_);
    if (std::memcmp(h_.magic, model_file::kMagic, sizeof h_.magic) != 0)
      fail_header("wrong magic bytes: not a metalnn model file");
    if (h_.endian_marker != model_file::kEndianMarker)
      fail_header("byte-order marker does not match this machine's byte order (the format is little-endian)");
    if (h_.version < model_file::kOldestVersion || h_.version > model_file::kVersion)
      fail_header("format version " + std::to_string(h_.version) +
                  (h_.version > model_file::kVersion ? " is newer than this reader, which reads versions "
                                              : " is not valid; this reader reads versions ") +
                  std::to_string(model_file::kOldestVersion) + " to " + std::to_string(model_file::kVersion));
    if (h_.file_size != size_)
      fail_header("declares " + std::to_string(h_.file_size) + " bytes but the file has " + std::to_string(size_) +
                  (size_ < h_.file_size ? " (truncated)" : " (trailing bytes)"));
    if (h_.reserved != 0) fail_header("reserved field is not 0");
    // Sections lie in order, inside the file, without overlapping; written so no sum can overflow.
    if (h_.graph_offset < model_file::kHeaderSize || h_.graph_offset > size_ || h_.graph_size > size_ - h_.graph_offset)
      fail_header("graph section [" + std::to_string(h_.graph_offset) + ", +" + std::to_string(h_.graph_size) +
                  ") lies outside the file");
    if (h_.data_offset % model_file::kBlobAlignment != 0)
      fail_header("data section offset " + std::to_string(h_.data_offset) + " is not 64-byte aligned");
    if (h_.data_offset < h_.graph_offset + h_.graph_size || h_.data_offset > size_ ||
        h_.data_size > size_ - h_.data_offset)
      fail_header("data section [" + std::to_string(h_.data_offset) + ", +" + std::to_string(h_.data_size) +
                  ") overlaps the graph section or lies outside the file");
  }

  void read_blobs(Cursor& c) {
    uint32_t n = c.count(16, "blob count");
    blobs_.reserve(n);
    uint64_t previous_end = 0;
    for (uint32_t i = 0; i < n; ++i) {
      c.where = "blob " + std::to_string(i) + ": ";
      Blob b{c.get<uint64_t>("offset"), c.get<uint64_t>("size")};
      if (b.offset % model_file::kBlobAlignment != 0) c.fail("offset " + std::to_string(b.offset) + " is not 64-byte aligned");
      if (b.offset > h_.data_size || b.size > h_.data_size - b.offset)
        c.fail("[" + std::to_string(b.offset) + ", +" + std::to_string(b.size) + ") lies past the end of the " +
               std::to_string(h_.data_size) + "-byte data section");
      if (b.offset < previous_end)
        c.fail("starts at " + std::to_string(b.offset) + ", overlapping the previous blob, which ends at " +
               std::to_string(previous_end) + " (blobs are stored in order without overlap)");
      previous_end = b.offset + b.size;
      blobs_.push_back(b);
    }
  }

  Shape read_shape(Cursor& c, int64_t min_dim) {
    uint32_t rank = c.count(8, "rank");
    if (rank > model_file::kMaxRank) c.fail("rank " + std::to_string(rank) + " exceeds " + std::to_string(model_file::kMaxRank));
    Shape s(rank);
    int64_t numel = 1;
    for (uint32_t d = 0; d < rank; ++d) {
      s[d] = c.get<int64_t>("dimension");
      if (s[d] < min_dim || s[d] > model_file::kMaxElements)
        c.fail("dimension " + std::to_string(d) + " is " + std::to_string(s[d]));
      if (s[d] > 0 && numel > model_file::kMaxElements / s[d])
        c.fail("shape has more than " + std::to_string(model_file::kMaxElements) + " elements");
      if (s[d] > 0) numel *= s[d];
    }
    return s;
  }

  DType read_dtype(Cursor& c, bool allow_undefined) {
    int32_t d = c.get<int32_t>("dtype");
    if (!(known_dtype(d) || (allow_undefined && d == 0))) c.fail("unknown dtype " + std::to_string(d));
    return static_cast<DType>(d);
  }

  // The blob index that follows a constant's dtype and shape, resolved to a tensor in the image.
  Tensor read_blob_tensor(Cursor& c, DType dtype, Shape shape) {
    uint32_t index = c.get<uint32_t>("blob index");
    if (index >= blobs_.size())
      c.fail("blob index " + std::to_string(index) + " is past the " + std::to_string(blobs_.size()) + " blobs");
    const Blob& b = blobs_[index];
    uint64_t nbytes = static_cast<uint64_t>(shape_numel(shape)) * dtype_size(dtype);
    if (nbytes != b.size)
      c.fail(dtype_name(dtype) + " " + shape_str(shape) + " needs " + std::to_string(nbytes) + " bytes but blob " +
             std::to_string(index) + " has " + std::to_string(b.size));
    void* p = const_cast<uint8_t*>(data_ + h_.data_offset + b.offset);  // read-only: constants are never written
    return Tensor(dtype, std::move(shape), p, owner_);
  }

  // One graph record; `depth` counts the sub-graph attributes it lies inside.
  void read_body(Cursor& c, Graph& g, int depth) {
    const std::string outer = c.where;
    read_values(c, g);
    read_nodes(c, g, depth);
    c.where = outer;
    read_id_list(c, g, g.inputs(), "graph input", 0);
    read_id_list(c, g, g.outputs(), "graph output", 0);
  }

  void read_values(Cursor& c, Graph& g) {
    const std::string outer = c.where;
    uint32_t n = c.count(9, "value count");
    for (uint32_t i = 0; i < n; ++i) {
      c.where = outer + "value " + std::to_string(i) + ": ";
      std::string name = c.str("name length");
      c.where = outer + "value " + std::to_string(i) + " " + quoted(name) + ": ";
      if (g.find_value(name) >= 0) c.fail("name is used twice");
      DType dtype = read_dtype(c, true);
      uint8_t flags = c.get<uint8_t>("flags");
      if (flags & ~(model_file::kValueHasShape | model_file::kValueConstant)) c.fail("unknown flags " + std::to_string(flags));
      bool constant = flags & model_file::kValueConstant;
      if (constant && !(flags & model_file::kValueHasShape)) c.fail("a constant must have a shape");
      if (constant && dtype == DType::Undefined) c.fail("a constant must have a dtype");
      Value& v = g.value(g.add_value(name, dtype));
      if (flags & model_file::kValueHasShape) {
        v.shape = read_shape(c, constant ? 0 : -1);
        v.has_shape = true;
      }
      if (constant) v.constant = read_blob_tensor(c, dtype, v.shape);
    }
  }

  void read_id_list(Cursor& c, const Graph& g, std::vector<int>& ids, const char* what, int min_id) {
    uint32_t n = c.count(4, what);
    ids.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      int32_t id = c.get<int32_t>("value id");
      if (id < min_id || id >= g.num_values())
        c.fail(std::string(what) + " " + std::to_string(i) + " refers to value " + std::to_string(id) + " of " +
               std::to_string(g.num_values()));
      ids.push_back(id);
    }
  }

  Attribute read_attribute(Cursor& c, int depth) {
    Attribute a;
    auto kind = static_cast<model_file::AttrKind>(c.get<uint8_t>("attribute kind"));
    switch (kind) {
      case model_file::AttrKind::Int: return Attribute::make_int(c.get<int64_t>("int"));
      case model_file::AttrKind::Float: return Attribute::make_float(c.get<float>("float"));
      case model_file::AttrKind::String: return Attribute::make_string(c.str("string length"));
      case model_file::AttrKind::Ints: {
        std::vector<int64_t> v(c.count(8, "int count"));
        for (int64_t& x : v) x = c.get<int64_t>("int");
        return Attribute::make_ints(std::move(v));
      }
      case model_file::AttrKind::Floats: {
        std::vector<float> v(c.count(4, "float count"));
        for (float& x : v) x = c.get<float>("float");
        return Attribute::make_floats(std::move(v));
      }
      case model_file::AttrKind::Strings: {
        a.kind = Attribute::Kind::Strings;
        a.strings.resize(c.count(4, "string count"));
        for (std::string& s : a.strings) s = c.str("string length");
        return a;
      }
      case model_file::AttrKind::Tensor: {
        DType dtype = read_dtype(c, false);
        Shape shape = read_shape(c, 0);
        return Attribute::make_tensor(read_blob_tensor(c, dtype, std::move(shape)));
      }
      case model_file::AttrKind::Graph: {
        if (depth + 1 > model_file::kMaxSubgraphDepth)
          c.fail("sub-graphs nest deeper than " + std::to_string(model_file::kMaxSubgraphDepth) + " levels");
        auto sub = std::make_shared<Graph>();
        read_body(c, *sub, depth + 1);
        return Attribute::make_graph(std::move(sub));
      }
    }
    c.fail("unknown attribute kind " + std::to_string(static_cast<int>(kind)));
  }

  void read_nodes(Cursor& c, Graph& g, int depth) {
    const std::string outer = c.where;
    uint32_t n = c.count(20, "node count");
    g.nodes().reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      c.where = outer + "node " + std::to_string(i) + ": ";
      Node node;
      node.op_type = c.str("op type length");
      node.name = c.str("name length");
      c.where = outer + "node " + std::to_string(i) + " " + node.op_type.substr(0, 64) + " " + quoted(node.name) + ": ";
      read_id_list(c, g, node.inputs, "input", -1);
      read_id_list(c, g, node.outputs, "output", -1);
      uint32_t attrs = c.count(9, "attribute count");
      std::string node_where = c.where;
      for (uint32_t k = 0; k < attrs; ++k) {
        std::string name = c.str("attribute name length");
        c.where = node_where + "attribute " + quoted(name) + ": ";
        if (node.attrs.has(name)) c.fail("appears twice");
        node.attrs.set(name, read_attribute(c, depth));
        c.where = node_where;
      }
      g.add_node(std::move(node));
    }
  }

  const uint8_t* data_;
  size_t size_;
  std::shared_ptr<const void> owner_;
  const std::string& source_;
  model_file::Header h_{};
  std::vector<Blob> blobs_;
  Graph g_;
};

}  // namespace

Graph read_model_file(const uint8_t* data, size_t size, std::shared_ptr<const void> owner, const std::string& source) {
  if (reinterpret_cast<uintptr_t>(data) % model_file::kBlobAlignment != 0)
    throw Error(source + ": the image must start 64-byte aligned so weights can be used in place");
  return ModelFileReader(data, size, std::move(owner), source).read();
}

Graph load_model_file(const std::string& path) {
  std::shared_ptr<const MappedFile> file = MappedFile::open(path);
  alignas(64) static const uint8_t empty[1] = {};
  const uint8_t* data = file->data() ? file->data() : empty;
  const std::string source = "model file '" + path + "'";
  // Named like an Alibaba MNN model and not ours: say so rather than report the magic bytes.
  const bool mnn_name = path.size() >= 4 && path.compare(path.size() - 4, 4, ".mnn") == 0;
  if (mnn_name && !is_model_file(data, file->size())) throw ModelError(source + ": " + kAlibabaMnnMessage);
  return read_model_file(data, file->size(), file, source);
}

Graph load_model_memory(const void* data, size_t size) {
  size_t rounded = model_file::align_up(size == 0 ? 1 : size, model_file::kBlobAlignment);
  void* copy = std::aligned_alloc(model_file::kBlobAlignment, rounded);
  if (!copy) throw std::bad_alloc();
  std::shared_ptr<const void> owner(copy, [](const void* p) { std::free(const_cast<void*>(p)); });
  if (size) std::memcpy(copy, data, size);
  return read_model_file(static_cast<const uint8_t*>(copy), size, owner, "model in memory");
}

bool is_model_file(const void* data, size_t size) {
  return size >= sizeof model_file::kMagic && std::memcmp(data, model_file::kMagic, sizeof model_file::kMagic) == 0;
}

}  // namespace metalnn
