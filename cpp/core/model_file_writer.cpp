#include "core/model_file_writer.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/model_file_format.h"
#include "core/model_file_reader.h"

namespace metalnn {

namespace {

// Little-endian primitives appended to a growing buffer (the host is little-endian; see model_file_format.h).
class ByteWriter {
 public:
  template <typename T>
  void put(T v) { buf_.append(reinterpret_cast<const char*>(&v), sizeof(T)); }
  void str(const std::string& s) {
    put<uint32_t>(static_cast<uint32_t>(s.size()));
    buf_ += s;
  }
  const std::string& bytes() const { return buf_; }

 private:
  std::string buf_;
};

model_file::AttrKind stored_kind(Attribute::Kind k) {
  switch (k) {
    case Attribute::Kind::Int: return model_file::AttrKind::Int;
    case Attribute::Kind::Float: return model_file::AttrKind::Float;
    case Attribute::Kind::String: return model_file::AttrKind::String;
    case Attribute::Kind::Ints: return model_file::AttrKind::Ints;
    case Attribute::Kind::Floats: return model_file::AttrKind::Floats;
    case Attribute::Kind::Strings: return model_file::AttrKind::Strings;
    case Attribute::Kind::Tensor: return model_file::AttrKind::Tensor;
    case Attribute::Kind::Graph: return model_file::AttrKind::Graph;
  }
  throw ModelError("unknown attribute kind");
}

class ModelFileWriter {
 public:
  explicit ModelFileWriter(const Graph& g) : g_(g) {
    collect_blobs(g_);
    serialize_graph();
  }

  void write(std::ostream& out, const WriteProgress& progress) const {
    const std::string& graph = graph_.bytes();
    model_file::Header h{};
    std::memcpy(h.magic, model_file::kMagic, sizeof h.magic);
    h.version = model_file::kVersion;
    h.endian_marker = model_file::kEndianMarker;
    h.graph_offset = model_file::kHeaderSize;
    h.graph_size = graph.size();
    h.data_offset = model_file::align_up(h.graph_offset + h.graph_size, model_file::kPageAlignment);
    h.data_size = data_size_;
    h.file_size = h.data_offset + h.data_size;

    uint64_t written = 0, reported = 0;
    auto report = [&] {
      if (progress && written != reported) progress(written, h.file_size);
      reported = written;
    };
    auto emit = [&](const void* p, uint64_t n) {
      out.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
      written += n;
    };
    auto pad_to = [&](uint64_t offset) {
      static const char zeros[4096] = {};
      while (written < offset) emit(zeros, std::min<uint64_t>(sizeof zeros, offset - written));
    };
    emit(&h, sizeof h);
    emit(graph.data(), graph.size());
    report();
    const uint64_t chunk = uint64_t{8} << 20;  // progress at least every 8 MiB, even inside one big blob
    for (const Blob& b : blobs_) {
      pad_to(h.data_offset + b.offset);
      for (uint64_t done = 0; done < b.size; done += chunk) {
        emit(static_cast<const char*>(b.data) + done, std::min(chunk, b.size - done));
        report();
      }
    }
    pad_to(h.file_size);
    report();
    if (!out) throw Error("writing the model file failed");
  }

 private:
  struct Blob {
    const void* data;
    uint64_t size;
    uint64_t offset;  // from the start of the data section
  };

  // The values a graph's nodes, inputs and outputs refer to: their old ids in order, and old id -> new id.
  struct Kept {
    std::vector<int> ids;
    std::vector<int> new_id;  // -1 when dropped
  };

  static Kept referenced_values(const Graph& g) {
    std::vector<char> used(g.num_values(), 0);
    for (const Node& n : g.nodes()) {
      for (int v : n.inputs)
        if (v >= 0) used[v] = 1;
      for (int v : n.outputs)
        if (v >= 0) used[v] = 1;
    }
    for (int v : g.inputs()) used[v] = 1;
    for (int v : g.outputs()) used[v] = 1;
    Kept k;
    k.new_id.assign(g.num_values(), -1);
    for (int v = 0; v < g.num_values(); ++v)
      if (used[v]) {
        k.new_id[v] = static_cast<int>(k.ids.size());
        k.ids.push_back(v);
      }
    return k;
  }

  void add_blob(const Tensor& t) {
    auto key = std::make_pair(t.raw(), t.nbytes());
    if (blob_index_.count(key)) return;
    uint64_t align = t.nbytes() >= model_file::kLargeBlobBytes ? model_file::kPageAlignment : model_file::kBlobAlignment;
    uint64_t offset = model_file::align_up(data_size_, align);
    blob_index_[key] = static_cast<uint32_t>(blobs_.size());
    blobs_.push_back({t.raw(), t.nbytes(), offset});
    data_size_ = offset + t.nbytes();
  }

  void collect_blobs(const Graph& g) {
    for (int v : referenced_values(g).ids)
      if (g.value(v).is_constant()) add_blob(g.value(v).constant);
    for (const Node& n : g.nodes())
      for (const auto& [name, a] : n.attrs.all()) {
        if (a.kind == Attribute::Kind::Graph) {
          if (!a.g) throw ModelError(n.label() + ": sub-graph attribute '" + name + "' is empty");
          collect_blobs(*a.g);
        }
        if (a.kind != Attribute::Kind::Tensor) continue;
        if (!a.t.defined()) throw ModelError(n.label() + ": tensor attribute '" + name + "' is empty");
        add_blob(a.t);
      }
  }

  void shape(const Shape& s) {
    graph_.put<uint32_t>(static_cast<uint32_t>(s.size()));
    for (int64_t d : s) graph_.put<int64_t>(d);
  }

  void blob_ref(const Tensor& t) { graph_.put<uint32_t>(blob_index_.at(std::make_pair(t.raw(), t.nbytes()))); }

  void tensor_ref(const Tensor& t) {
    graph_.put<int32_t>(static_cast<int32_t>(t.dtype()));
    shape(t.shape());
    blob_ref(t);
  }

  void id_list(const std::vector<int>& ids, const std::vector<int>& new_id) {
    graph_.put<uint32_t>(static_cast<uint32_t>(ids.size()));
    for (int v : ids) graph_.put<int32_t>(v < 0 ? -1 : new_id[v]);
  }

  void attribute(const std::string& name, const Attribute& a) {
    graph_.str(name);
    graph_.put<uint8_t>(static_cast<uint8_t>(stored_kind(a.kind)));
    switch (a.kind) {
      case Attribute::Kind::Int: graph_.put<int64_t>(a.i); break;
      case Attribute::Kind::Float: graph_.put<float>(a.f); break;
      case Attribute::Kind::String: graph_.str(a.s); break;
      case Attribute::Kind::Ints:
        graph_.put<uint32_t>(static_cast<uint32_t>(a.ints.size()));
        for (int64_t x : a.ints) graph_.put<int64_t>(x);
        break;
      case Attribute::Kind::Floats:
        graph_.put<uint32_t>(static_cast<uint32_t>(a.floats.size()));
        for (float x : a.floats) graph_.put<float>(x);
        break;
      case Attribute::Kind::Strings:
        graph_.put<uint32_t>(static_cast<uint32_t>(a.strings.size()));
        for (const std::string& s : a.strings) graph_.str(s);
        break;
      case Attribute::Kind::Tensor: tensor_ref(a.t); break;
      case Attribute::Kind::Graph: body(*a.g); break;
    }
  }

  void serialize_graph() {
    graph_.put<uint32_t>(static_cast<uint32_t>(blobs_.size()));
    for (const Blob& b : blobs_) {
      graph_.put<uint64_t>(b.offset);
      graph_.put<uint64_t>(b.size);
    }
    body(g_);
  }

  // Values, nodes, inputs and outputs of `g`; a sub-graph attribute nests the same record.
  void body(const Graph& g) {
    const Kept kept = referenced_values(g);
    graph_.put<uint32_t>(static_cast<uint32_t>(kept.ids.size()));
    for (int v : kept.ids) {
      const Value& val = g.value(v);
      graph_.str(val.name);
      graph_.put<int32_t>(static_cast<int32_t>(val.dtype));
      // A constant's dtype and shape are its tensor's (Graph::add_constant keeps them equal).
      const bool has_shape = val.is_constant() || val.has_shape;
      graph_.put<uint8_t>((has_shape ? model_file::kValueHasShape : 0) | (val.is_constant() ? model_file::kValueConstant : 0));
      if (has_shape) shape(val.is_constant() ? val.constant.shape() : val.shape);
      if (val.is_constant()) blob_ref(val.constant);
    }
    graph_.put<uint32_t>(static_cast<uint32_t>(g.nodes().size()));
    for (const Node& n : g.nodes()) {
      graph_.str(n.op_type);
      graph_.str(n.name);
      id_list(n.inputs, kept.new_id);
      id_list(n.outputs, kept.new_id);
      graph_.put<uint32_t>(static_cast<uint32_t>(n.attrs.all().size()));
      for (const auto& [name, a] : n.attrs.all()) attribute(name, a);
    }
    id_list(g.inputs(), kept.new_id);
    id_list(g.outputs(), kept.new_id);
  }

  const Graph& g_;
  std::vector<Blob> blobs_;
  std::map<std::pair<const void*, size_t>, uint32_t> blob_index_;
  uint64_t data_size_ = 0;
  ByteWriter graph_;
};

}  // namespace

void write_model_file(const Graph& g, std::ostream& out, const WriteProgress& progress) {
  ModelFileWriter(g).write(out, progress);
}

void save_model_file(const Graph& g, const std::string& path, const WriteProgress& progress) {
  ModelFileWriter writer(g);
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot open '" + tmp + "' for writing");
    try {
      writer.write(out, progress);
      out.close();
      if (!out) throw Error("writing '" + tmp + "' failed");
    } catch (...) {
      std::remove(tmp.c_str());
      throw;
    }
  }
  // Read the file back before it takes the name: a model the reader refuses (a rank or a size over the
  // format's limits) is an error now, not a file that fails to load later.
  try {
    load_model_file(tmp);
  } catch (const Error& e) {
    std::remove(tmp.c_str());
    throw ModelError("cannot save '" + path + "': loading it would fail: " + e.what());
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error("cannot rename '" + tmp + "' to '" + path + "'");
  }
}

std::string model_file_bytes(const Graph& g) {
  std::ostringstream out;
  write_model_file(g, out);
  return std::move(out).str();
}

}  // namespace metalnn
