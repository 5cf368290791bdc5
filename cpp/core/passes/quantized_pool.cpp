// DequantizeLinear -> MaxPool -> QuantizeLinear with one scale and zero point on both sides becomes
// MaxPool on the int8/uint8 tensor itself: dequantizing is increasing, so the maximum of the
// dequantized values is the dequantized maximum, and quantizing it again with the same parameters
// gives back the byte exactly.
#include "core/passes/passes.h"
#include "core/passes/pattern.h"

namespace metalnn {

namespace {

// The zero point of a (De)QuantizeLinear node as a byte of `dtype`, 0 when absent; false when it is
// not a one-element constant of that dtype.
bool zero_byte(const Graph& g, const Node& n, DType dtype, uint8_t& out) {
  out = 0;
  if (n.inputs.size() < 3 || n.inputs[2] < 0) return true;
  const Value& z = g.value(n.inputs[2]);
  if (!z.is_constant() || z.dtype != dtype || z.constant.numel() != 1) return false;
  out = static_cast<const uint8_t*>(z.constant.raw())[0];
  return true;
}

// Whether dq and q (de)quantize `dtype` with the same one scale and zero point.
bool same_parameters(const Graph& g, const Node& dq, const Node& q, DType dtype) {
  float dq_scale = 0.f, q_scale = 0.f;
  uint8_t dq_zero = 0, q_zero = 0;
  if (dq.attrs.get_int("block_size", 0) != 0 || q.attrs.get_int("block_size", 0) != 0) return false;
  if (q.inputs.size() < 2 || dq.inputs.size() < 2) return false;
  if (!scalar_f32(g, dq.inputs[1], dq_scale) || !scalar_f32(g, q.inputs[1], q_scale)) return false;
  if (!zero_byte(g, dq, dtype, dq_zero) || !zero_byte(g, q, dtype, q_zero)) return false;
  return dq_scale == q_scale && dq_scale > 0.f && dq_zero == q_zero;
}

}  // namespace

void pool_quantized(Graph& g) {
  const std::vector<int> uses = g.use_counts();
  const std::vector<int> producer = g.producers();
  std::vector<char> dead(g.nodes().size(), 0);
  for (size_t qi = 0; qi < g.nodes().size(); ++qi) {
    const Node& q = g.nodes()[qi];
    if (q.op_type != "QuantizeLinear" || q.inputs.empty() || !mergeable_edge(g, uses, q.inputs[0])) continue;
    const int pi = producer[q.inputs[0]];
    if (pi < 0 || g.nodes()[pi].op_type != "MaxPool" || g.nodes()[pi].outputs.size() != 1) continue;
    const Node& pool = g.nodes()[pi];
    if (pool.inputs.empty() || !mergeable_edge(g, uses, pool.inputs[0])) continue;
    const int di = producer[pool.inputs[0]];
    if (di < 0 || g.nodes()[di].op_type != "DequantizeLinear" || g.nodes()[di].inputs.empty()) continue;
    const Node& dq = g.nodes()[di];
    const DType t = g.value(dq.inputs[0]).dtype;
    if ((t != DType::Int8 && t != DType::UInt8) || g.value(q.outputs[0]).dtype != t) continue;
    if (!same_parameters(g, dq, q, t) || !claim(dead, {int(qi), di})) continue;
    Node& rewired = g.nodes()[pi];
    rewired.inputs[0] = dq.inputs[0];
    rewired.outputs[0] = q.outputs[0];
  }
  erase_nodes(g, dead);
}

}  // namespace metalnn
