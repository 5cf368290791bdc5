#include "core/attributes.h"

#include "core/error.h"

namespace metalnn {

Attribute Attribute::make_int(int64_t v) { Attribute a; a.kind = Kind::Int; a.i = v; return a; }
Attribute Attribute::make_float(float v) { Attribute a; a.kind = Kind::Float; a.f = v; return a; }
Attribute Attribute::make_string(std::string v) { Attribute a; a.kind = Kind::String; a.s = std::move(v); return a; }
Attribute Attribute::make_ints(std::vector<int64_t> v) { Attribute a; a.kind = Kind::Ints; a.ints = std::move(v); return a; }
Attribute Attribute::make_floats(std::vector<float> v) { Attribute a; a.kind = Kind::Floats; a.floats = std::move(v); return a; }
Attribute Attribute::make_tensor(metalnn::Tensor v) { Attribute a; a.kind = Kind::Tensor; a.t = std::move(v); return a; }
Attribute Attribute::make_graph(std::shared_ptr<const metalnn::Graph> v) { Attribute a; a.kind = Kind::Graph; a.g = std::move(v); return a; }

const Attribute* Attributes::find(const std::string& name) const {
  auto it = map_.find(name);
  return it == map_.end() ? nullptr : &it->second;
}

static const Attribute* expect(const Attributes& attrs, const std::string& name, Attribute::Kind kind,
                               const char* what) {
  const Attribute* a = attrs.find(name);
  if (a && a->kind != kind) throw ModelError("attribute '" + name + "' must be " + what);
  return a;
}

int64_t Attributes::get_int(const std::string& name, int64_t fallback) const {
  const Attribute* a = expect(*this, name, Attribute::Kind::Int, "an int");
  return a ? a->i : fallback;
}

float Attributes::get_float(const std::string& name, float fallback) const {
  const Attribute* a = find(name);
  if (a && a->kind == Attribute::Kind::Int) return static_cast<float>(a->i);
  a = expect(*this, name, Attribute::Kind::Float, "a float");
  return a ? a->f : fallback;
}

std::string Attributes::get_string(const std::string& name, const std::string& fallback) const {
  const Attribute* a = expect(*this, name, Attribute::Kind::String, "a string");
  return a ? a->s : fallback;
}

std::vector<int64_t> Attributes::get_ints(const std::string& name, std::vector<int64_t> fallback) const {
  const Attribute* a = expect(*this, name, Attribute::Kind::Ints, "a list of ints");
  return a ? a->ints : fallback;
}

std::vector<float> Attributes::get_floats(const std::string& name, std::vector<float> fallback) const {
  const Attribute* a = expect(*this, name, Attribute::Kind::Floats, "a list of floats");
  return a ? a->floats : fallback;
}

}  // namespace metalnn

namespace metalnn {

const Graph* Attributes::get_graph(const std::string& name) const {
  const Attribute* a = expect(*this, name, Attribute::Kind::Graph, "a graph");
  return a ? a->g.get() : nullptr;
}

}  // namespace metalnn
