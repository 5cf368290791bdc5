#include "core/activation.h"

#include <limits>

#include "core/error.h"

namespace metalnn {

namespace {
struct KindName {
  Activation::Kind kind;
  const char* name;
};
constexpr KindName kNames[] = {
    {Activation::Kind::Relu, "Relu"},           {Activation::Kind::LeakyRelu, "LeakyRelu"},
    {Activation::Kind::Clip, "Clip"},           {Activation::Kind::Sigmoid, "Sigmoid"},
    {Activation::Kind::HardSigmoid, "HardSigmoid"}, {Activation::Kind::HardSwish, "HardSwish"},
    {Activation::Kind::Tanh, "Tanh"},           {Activation::Kind::Swish, "Swish"},
    {Activation::Kind::Gelu, "Gelu"},           {Activation::Kind::GeluTanh, "GeluTanh"},
};
}  // namespace

Activation Activation::of_node(const Node& n) {
  Activation a;
  const std::string name = n.attrs.get_string("_activation", "");
  bool known = name.empty();
  for (const KindName& k : kNames)
    if (name == k.name) {
      a.kind = k.kind;
      known = true;
    }
  if (!known) throw ModelError(n.label() + ": unknown fused activation '" + name + "'");
  a.alpha = n.attrs.get_float("_activation_alpha", 0.f);
  a.beta = n.attrs.get_float("_activation_beta", 0.f);
  return a;
}

void Activation::store(Node& n) const {
  for (const KindName& k : kNames)
    if (kind == k.kind) n.attrs.set("_activation", Attribute::make_string(k.name));
  n.attrs.set("_activation_alpha", Attribute::make_float(alpha));
  n.attrs.set("_activation_beta", Attribute::make_float(beta));
}

Activation Activation::from_activation_node(const Graph& g, const Node& n) {
  Activation a;
  if (n.op_type == "Relu") {
    a.kind = Kind::Relu;
  } else if (n.op_type == "LeakyRelu") {
    a.kind = Kind::LeakyRelu;
    a.alpha = n.attrs.get_float("alpha", 0.01f);
  } else if (n.op_type == "Sigmoid") {
    a.kind = Kind::Sigmoid;
  } else if (n.op_type == "Tanh") {
    a.kind = Kind::Tanh;
  } else if (n.op_type == "HardSigmoid") {
    a.kind = Kind::HardSigmoid;
    a.alpha = n.attrs.get_float("alpha", 0.2f);
    a.beta = n.attrs.get_float("beta", 0.5f);
  } else if (n.op_type == "HardSwish") {
    a.kind = Kind::HardSwish;
  } else if (n.op_type == "Swish") {
    a.kind = Kind::Swish;
    a.alpha = n.attrs.get_float("alpha", 1.f);
  } else if (n.op_type == "Gelu") {
    const std::string approximate = n.attrs.get_string("approximate", "none");
    if (approximate == "none") a.kind = Kind::Gelu;
    else if (approximate == "tanh") a.kind = Kind::GeluTanh;
  } else if (n.op_type == "Clip") {
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    for (int i = 1; i <= 2; ++i) {
      if (static_cast<int>(n.inputs.size()) <= i || n.inputs[i] < 0) continue;
      const Value& v = g.value(n.inputs[i]);
      if (!v.is_constant() || v.constant.numel() != 1) return a;  // bounds known only at run time
      (i == 1 ? lo : hi) = static_cast<float>(v.constant.float_at(0));
    }
    a.kind = Kind::Clip;
    a.alpha = lo;
    a.beta = hi;
  }
  return a;
}

}  // namespace metalnn
