// The public API (metalnn/metalnn.h) over the internal Model and the .metalnn reader. Internal exceptions
// become NetworkError here, so the public header needs none of the engine's types.
#include "metalnn/metalnn.h"

#include <cstring>

#include "core/error_kind.h"
#include "core/model_file_reader.h"
#include "engine/model.h"

namespace metalnn {

namespace {

template <typename F>
auto translate_errors(F&& f) -> decltype(f()) {
  using Kind = NetworkError::Kind;
  static_assert(int(Kind::Model) == int(ErrorKind::Model) && int(Kind::Other) == int(ErrorKind::Other) &&
                int(Kind::Device) == int(ErrorKind::Device) && int(Kind::Allocation) == int(ErrorKind::Allocation), "NetworkError::Kind mirrors ErrorKind");
  try {
    return f();
  } catch (const Error& e) {
    throw NetworkError(static_cast<Kind>(error_kind(e)), e.what());
  } catch (const std::bad_alloc&) {  // an allocation no layer below could name
    throw NetworkError(Kind::Allocation, "out of memory (std::bad_alloc)");
  }
}

std::vector<TensorDesc> describe(const std::vector<TensorInfo>& infos) {
  std::vector<TensorDesc> out;
  for (const TensorInfo& t : infos) out.push_back({t.name, static_cast<ElementType>(t.dtype), t.shape});
  return out;
}

int index_of(const std::vector<TensorDesc>& descs, const std::string& name) {
  for (size_t i = 0; i < descs.size(); ++i)
    if (descs[i].name == name) return static_cast<int>(i);
  return -1;
}

}  // namespace

size_t element_size(ElementType type) { return dtype_size(static_cast<DType>(type)); }

int64_t TensorDesc::element_count() const { return shape_numel(shape); }

size_t TensorDesc::byte_size() const { return static_cast<size_t>(element_count()) * element_size(type); }

struct Network::Impl {
  Impl(Graph g, const LoadOptions& options)
      : model(std::move(g), CompileOptions{options.device, options.precision, options.threads}),
        inputs(describe(model.inputs())),
        outputs(describe(model.outputs())) {}
  Model model;
  std::vector<TensorDesc> inputs, outputs;
};

Network::Network(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Network::Network(Network&&) noexcept = default;
Network& Network::operator=(Network&&) noexcept = default;
Network::~Network() = default;

Network Network::load(const std::string& path, const LoadOptions& options) {
  return translate_errors([&] { return Network(std::make_unique<Impl>(load_model_file(path), options)); });
}

Network Network::load(const void* data, size_t size, const LoadOptions& options) {
  return translate_errors([&] { return Network(std::make_unique<Impl>(load_model_memory(data, size), options)); });
}

const std::vector<TensorDesc>& Network::inputs() const { return impl_->inputs; }
const std::vector<TensorDesc>& Network::outputs() const { return impl_->outputs; }
int Network::input_index(const std::string& name) const { return index_of(impl_->inputs, name); }
int Network::output_index(const std::string& name) const { return index_of(impl_->outputs, name); }
const std::string& Network::device() const { return impl_->model.device(); }

void Network::run(const std::vector<const void*>& inputs, const std::vector<void*>& outputs) {
  const std::vector<TensorDesc>& in = impl_->inputs;
  const std::vector<TensorDesc>& out = impl_->outputs;
  if (inputs.size() != in.size() || outputs.size() != out.size())
    throw NetworkError(NetworkError::Kind::Shape, "run: the model takes " + std::to_string(in.size()) +
                                                      " inputs and " + std::to_string(out.size()) + " outputs, got " +
                                                      std::to_string(inputs.size()) + " and " +
                                                      std::to_string(outputs.size()));
  std::vector<Tensor> tensors;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!inputs[i]) throw NetworkError(NetworkError::Kind::Shape, "run: input '" + in[i].name + "' is null");
    tensors.emplace_back(static_cast<DType>(in[i].type), in[i].shape, const_cast<void*>(inputs[i]));
  }
  for (size_t i = 0; i < out.size(); ++i)
    if (!outputs[i]) throw NetworkError(NetworkError::Kind::Shape, "run: output '" + out[i].name + "' is null");
  std::vector<Tensor> results = translate_errors([&] { return impl_->model.run(tensors); });
  for (size_t i = 0; i < out.size(); ++i) {
    if (results[i].nbytes() != out[i].byte_size())  // never write past a buffer sized from outputs()
      throw NetworkError(NetworkError::Kind::Shape, "run: output '" + out[i].name + "' came out with shape " +
                                                        shape_str(results[i].shape()));
    std::memcpy(outputs[i], results[i].raw(), results[i].nbytes());
  }
}

}  // namespace metalnn
