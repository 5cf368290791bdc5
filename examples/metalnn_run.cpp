// Runs a .metalnn model through the public C++ API: metalnn_run model.metalnn [-d device] [-o out_dir] [input.bin ...]
// Each input file holds the raw bytes of one input (row-major); without files the inputs are zeros.
// Prints every output's shape and first values; with -o, writes each as <out_dir>/<name>.bin.
#include <metalnn/metalnn.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

namespace {

std::vector<char> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void print_values(const metalnn::TensorDesc& desc, const std::vector<char>& data) {
  if (desc.type != metalnn::ElementType::Float32) return;
  const float* v = reinterpret_cast<const float*>(data.data());
  int64_t n = desc.element_count() < 8 ? desc.element_count() : 8;
  for (int64_t i = 0; i < n; ++i) std::printf(" %.6g", v[i]);
  if (n < desc.element_count()) std::printf(" ...");
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, device = "auto", out_dir;
  std::vector<std::string> input_paths;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-d" && i + 1 < argc) device = argv[++i];
    else if (arg == "-o" && i + 1 < argc) out_dir = argv[++i];
    else if (model_path.empty()) model_path = arg;
    else input_paths.push_back(arg);
  }
  if (model_path.empty()) {
    std::cerr << "usage: metalnn_run model.metalnn [-d device] [-o out_dir] [input.bin ...]\n";
    return 2;
  }
  try {
    metalnn::Network net = metalnn::Network::load(model_path, {device});
    std::cout << model_path << " on " << net.device() << "\n";

    std::vector<std::vector<char>> inputs;
    for (size_t i = 0; i < net.inputs().size(); ++i) {
      const metalnn::TensorDesc& desc = net.inputs()[i];
      inputs.push_back(i < input_paths.size() ? read_file(input_paths[i]) : std::vector<char>(desc.byte_size()));
      if (inputs.back().size() != desc.byte_size())
        throw std::runtime_error("input '" + desc.name + "' needs " + std::to_string(desc.byte_size()) + " bytes");
      std::cout << "input  " << desc.name << " " << shape_text(desc.shape) << "\n";
    }
    std::vector<std::vector<char>> outputs;
    for (const metalnn::TensorDesc& desc : net.outputs()) outputs.emplace_back(desc.byte_size());

    std::vector<const void*> in_ptrs;
    std::vector<void*> out_ptrs;
    for (auto& b : inputs) in_ptrs.push_back(b.data());
    for (auto& b : outputs) out_ptrs.push_back(b.data());
    net.run(in_ptrs, out_ptrs);

    for (size_t i = 0; i < outputs.size(); ++i) {
      const metalnn::TensorDesc& desc = net.outputs()[i];
      std::cout << "output " << desc.name << " " << shape_text(desc.shape) << ":";
      std::cout.flush();
      print_values(desc, outputs[i]);
      std::printf("\n");
      std::fflush(stdout);
      if (!out_dir.empty()) {
        std::ofstream out(out_dir + "/" + desc.name + ".bin", std::ios::binary);
        out.write(outputs[i].data(), static_cast<std::streamsize>(outputs[i].size()));
      }
    }
  } catch (const metalnn::NetworkError& e) {
    std::cerr << "metalnn error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
