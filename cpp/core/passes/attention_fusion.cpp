// Scaled-dot-product attention as exporters write it becomes one FusedAttention node
// (core/ops/attention.cpp):
//   MatMul([Mul(Q, a)], [Mul(Kt, b)]) -> [Mul|Div by c] -> [Add mask] -> Softmax(last axis)
//     -> [Where(IsNaN(p), 0, p)] -> MatMul(., V)
// where the mask may also be a boolean Where(keep, scores, -inf) under or instead of the Add.
// the scale being the product of a, b and c (torch's sdpa export scales Q and Kt by sqrt(scale)
// each; eager attention divides the scores by sqrt(d)). Q, Kt and V are rank 4 with equal batch dims.
// Keys and values that repeat_kv repeated for grouped-query attention (Unsqueeze -> Expand -> Reshape)
// are read before the repetition: query head h reads kv head h / (Hq / Hkv).
// When Q, K and V come from their projections' [B, S, H * D] rows through the head split (Reshape to
// [B, S, H, D], Transpose to [B, H, S, D], or [B, H, D, S] for the keys) and the output goes back
// through the merge (Transpose to [B, S, H, Dv], Reshape to [B, S, H * Dv]), the op reads and writes
// those rows itself (the `heads` layout) and the copies go.
#include <algorithm>
#include <limits>

#include "core/ops/attention.h"
#include "core/ops/broadcast.h"
#include "core/passes/passes.h"
#include "core/passes/pattern.h"

namespace metalnn {

namespace {

class AttentionMatcher {
 public:
  explicit AttentionMatcher(Graph& g)
      : g_(g), uses_(g.use_counts()), producer_(g.producers()), consumer_(size_t(g.num_values()), -1) {
    for (size_t i = 0; i < g.nodes().size(); ++i)
      for (int v : g.nodes()[i].inputs)
        if (v >= 0) consumer_[v] = int(i);  // meaningful only for the single-use values asked about
  }

  // Rewrites `out` (the final MatMul) into FusedAttention when it ends the pattern; the nodes it
  // replaces are added to `parts`.
  bool match(Node& out, std::vector<int>& parts) {
    parts.clear();
    if (!plain_matmul(out)) return false;
    int v = out.inputs[1];
    int probs = out.inputs[0];
    bool nan_to_zero = false;
    const Node* guard = producer(probs, "Where", 3, parts);  // Where(IsNaN(p), 0, p)
    if (guard) {
      const int p = guard->inputs[2];
      const Node* isnan = producer(guard->inputs[0], "IsNaN", 1, parts, true, DType::Bool);
      float zero;
      if (!isnan || isnan->inputs[0] != p || !scalar_f32(g_, guard->inputs[1], zero) || zero != 0.f ||
          uses_[p] != 2 || is_output(p))
        return false;
      probs = p;
      nan_to_zero = true;
    }
    const Node* softmax = producer(probs, "Softmax", 1, parts, !nan_to_zero);
    if (!softmax || softmax->attrs.get_int("_coerce_2d", 0) != 0) return false;
    const int64_t axis = softmax->attrs.get_int("axis", -1);
    if (axis != -1 && axis != 3) return false;
    int z = softmax->inputs[0], mask = -1, keep = -1;
    float fill = 0.f;
    if (const Node* add = producer(z, "Add", 2, parts)) {
      for (int k = 0; k < 2 && mask < 0; ++k) {
        const size_t mark = parts.size();
        const int under = unmasked(add->inputs[k], parts, keep, fill);
        if (under >= 0 && scaled_scores(under, parts) >= 0) mask = add->inputs[1 - k], z = under;
        else parts.resize(mark), keep = -1;
      }
      // fill + mask and scores + fill agree on every row only when fill is -inf
      if (mask < 0 || (keep >= 0 && fill != -std::numeric_limits<float>::infinity())) return false;
    } else {
      z = unmasked(z, parts, keep, fill);
    }
    float scale = 1.f;
    const int scores = scaled_scores(z, parts, &scale);
    if (scores < 0) return false;
    const Node& qk = g_.nodes()[producer_[scores]];
    int q = qk.inputs[0], kt = qk.inputs[1];
    scale *= unscaled(q, parts) * unscaled(kt, parts);
    // Grouped-query attention: keys and values repeated per query head (repeat_kv) are read unrepeated.
    int keys = -1;
    const size_t before_kv = parts.size();
    const int kv_values = unrepeated(v, parts);
    if (kv_values >= 0) keys = unrepeated_keys(kt, parts);
    if (keys >= 0 && g_.value(keys).shape == g_.value(kv_values).shape) {
      v = kv_values;
    } else {
      keys = -1;
      parts.resize(before_kv);
    }
    const Shape &qs = g_.value(q).shape, &vs = g_.value(v).shape;
    const Shape ks = keys >= 0 ? Shape{vs[0], vs[1], vs[3], vs[2]} : g_.value(kt).shape;
    if (qs.size() != 4 || ks.size() != 4 || vs.size() != 4 || qs[0] != ks[0] || qs[0] != vs[0] || ks[1] != vs[1] ||
        ks[1] <= 0 || qs[1] % ks[1] != 0 || qs[3] != ks[2] || ks[3] != vs[2] || g_.value(v).dtype != DType::Float32)
      return false;
    if (mask >= 0) {
      const Shape& ms = g_.value(mask).shape;
      Shape b;
      const Shape s = {qs[0], qs[1], qs[2], ks[3]};
      if (ms.size() > 4 || g_.value(mask).dtype != DType::Float32 || !try_broadcast_shapes(s, ms, &b) || b != s)
        return false;
    }
    if (keep >= 0) {  // Where(keep, scores, fill) as the additive mask Where(keep, mask or 0, fill)
      const Shape s = {qs[0], qs[1], qs[2], ks[3]};
      Shape b;
      if (!try_broadcast_shapes(g_.value(keep).shape, mask >= 0 ? g_.value(mask).shape : Shape{}, &b) ||
          !try_broadcast_shapes(s, b, &b) || b != s)
        return false;
      mask = additive_mask(out.name, keep, mask, fill);
    }
    if (keys >= 0) kt = transposed_keys(out.name, keys, ks);
    out.op_type = "FusedAttention";
    out.inputs = {q, kt, v};
    if (mask >= 0) out.inputs.push_back(mask);
    out.attrs = Attributes();
    out.attrs.set("scale", Attribute::make_float(scale));
    if (nan_to_zero) out.attrs.set("nan_to_zero", Attribute::make_int(1));
    if (keys < 0) read_rows(out, parts);
    return true;
  }

 private:
  bool is_output(int v) const { return std::find(g_.outputs().begin(), g_.outputs().end(), v) != g_.outputs().end(); }

  static bool plain_matmul(const Node& n) {
    return n.op_type == "MatMul" && n.inputs.size() == 2 && !n.attrs.has("_activation");
  }

  // The node producing `v` when it is an `op` of `inputs` inputs whose output only the pattern reads
  // (unless `single_use` is false); recorded in parts.
  const Node* producer(int v, const char* op, size_t inputs, std::vector<int>& parts, bool single_use = true,
                       DType dtype = DType::Float32) const {
    if (v < 0 || producer_[v] < 0 || (single_use && !mergeable_edge(g_, uses_, v))) return nullptr;
    const Node& n = g_.nodes()[producer_[v]];
    if (n.op_type != op || n.inputs.size() != inputs || g_.value(v).dtype != dtype) return nullptr;
    parts.push_back(producer_[v]);
    return &n;
  }

  // The Q . Kt MatMul output under `v` = scores [* c | / c]; multiplies *scale by c (or 1 / c).
  int scaled_scores(int v, std::vector<int>& parts, float* scale = nullptr) const {
    const size_t mark = parts.size();
    for (const char* op : {"Mul", "Div"}) {
      const Node* n = producer(v, op, 2, parts);
      if (!n) continue;
      float c;
      for (int k = 0; k < (op[0] == 'M' ? 2 : 1); ++k) {
        if (!scalar_f32(g_, n->inputs[1 - k], c) || c == 0.f) continue;
        const int s = n->inputs[k];
        if (producer(s, "MatMul", 2, parts) && plain_matmul(g_.nodes()[producer_[s]])) {
          if (scale) *scale *= op[0] == 'M' ? c : 1.f / c;
          return s;
        }
        parts.resize(mark + 1);
      }
      parts.resize(mark);
    }
    if (producer(v, "MatMul", 2, parts) && plain_matmul(g_.nodes()[producer_[v]])) return v;
    parts.resize(mark);
    return -1;
  }

  // The scores under Where(keep, scores, fill) with a boolean `keep` and fill -inf or nearly (so that
  // adding it instead of writing it changes no probability); `v` itself when there is no such Where.
  int unmasked(int v, std::vector<int>& parts, int& keep, float& fill) const {
    const Node* where = producer(v, "Where", 3, parts);
    if (!where) return v;
    if (g_.value(where->inputs[0]).dtype != DType::Bool || !scalar_f32(g_, where->inputs[2], fill) || fill > -1e30f) {
      parts.pop_back();
      return -1;
    }
    keep = where->inputs[0];
    return where->inputs[1];
  }

  // A new value Where(keep, mask (or 0), fill): the float mask the fused op adds. Its node waits in
  // added() until the pass has finished walking the node list.
  int additive_mask(const std::string& name, int keep, int mask, float fill) {
    const int fill_value = g_.add_constant(g_.unique_name(name + ".mask_fill"), scalar(fill));
    const int kept = mask >= 0 ? mask : g_.add_constant(g_.unique_name(name + ".mask_zero"), scalar(0.f));
    Shape shape;
    try_broadcast_shapes(g_.value(keep).shape, g_.value(kept).shape, &shape);
    return added_node(name + ".mask", "Where", {keep, kept, fill_value}, shape, Attributes());
  }

  // The float32 output (of `shape`) of a new `op` node of `inputs`, held in added() with the others.
  int added_node(const std::string& name, const char* op, std::vector<int> inputs, const Shape& shape,
                 Attributes attrs) {
    const int out = g_.add_value(g_.unique_name(name), DType::Float32);
    g_.value(out).shape = shape;
    g_.value(out).has_shape = true;
    Node n;
    n.op_type = op;
    n.name = g_.unique_name(name);
    n.inputs = std::move(inputs);
    n.outputs = {out};
    n.attrs = std::move(attrs);
    added_.push_back(std::move(n));
    return out;
  }

  // The [B, Hkv, S, D] tensor that repeat_kv turns into `v` ([B, Hkv * r, S, D]): Reshape(Expand(
  // Unsqueeze(x, axis 2), [B, Hkv, r, S, D])), each node read only here; -1 otherwise.
  int unrepeated(int v, std::vector<int>& parts) const {
    const size_t mark = parts.size();
    const Node* reshape = producer(v, "Reshape", 2, parts);
    const Node* expand = reshape ? producer(reshape->inputs[0], "Expand", 2, parts) : nullptr;
    const Node* unsqueeze = nullptr;
    if (expand) {
      unsqueeze = producer(expand->inputs[0], "Unsqueeze", 2, parts);  // axes as an input (opset 13)
      if (!unsqueeze) unsqueeze = producer(expand->inputs[0], "Unsqueeze", 1, parts);
    }
    if (unsqueeze) {
      const Shape &x = g_.value(unsqueeze->inputs[0]).shape, &u = g_.value(expand->inputs[0]).shape;
      const Shape &e = g_.value(reshape->inputs[0]).shape, &r = g_.value(v).shape;
      // The repeated heads as [B, Hkv * r, S, D], or flattened to [B * Hkv * r, S, D] (dynamo's sdpa keys).
      if (x.size() == 4 && u == Shape{x[0], x[1], 1, x[2], x[3]} && e.size() == 5 && e[0] == x[0] && e[1] == x[1] &&
          e[3] == x[2] && e[4] == x[3] &&
          (r == Shape{x[0], x[1] * e[2], x[2], x[3]} || r == Shape{x[0] * x[1] * e[2], x[2], x[3]}) &&
          g_.value(unsqueeze->inputs[0]).dtype == DType::Float32)
        return unsqueeze->inputs[0];
    }
    parts.resize(mark);
    return -1;
  }

  // The unrepeated keys [B, Hkv, S, D] under Kt = Transpose(repeated, [0, 1, 3, 2]), or under
  // Kt = Reshape(Transpose(repeated [B * Hq, S, D], [0, 2, 1])) as dynamo writes sdpa's; -1 otherwise.
  int unrepeated_keys(int kt, std::vector<int>& parts) const {
    const size_t mark = parts.size();
    if (const Node* t = producer(kt, "Transpose", 1, parts)) {
      const int keys = t->attrs.get_ints("perm") == std::vector<int64_t>{0, 1, 3, 2} ? unrepeated(t->inputs[0], parts) : -1;
      if (keys >= 0 && g_.value(t->inputs[0]).shape.size() == 4) return keys;
      parts.resize(mark);
      return -1;
    }
    const Node* reshape = producer(kt, "Reshape", 2, parts);
    const Node* t = reshape ? producer(reshape->inputs[0], "Transpose", 1, parts) : nullptr;
    if (t && t->attrs.get_ints("perm") == std::vector<int64_t>{0, 2, 1}) {
      const int keys = unrepeated(t->inputs[0], parts);
      const Shape& k = g_.value(kt).shape;
      const Shape& flat = g_.value(t->inputs[0]).shape;  // [B * Hq, S, D]
      if (keys >= 0 && k.size() == 4 && flat.size() == 3 && flat[0] == k[0] * k[1] && flat[1] == k[3] && flat[2] == k[2])
        return keys;
    }
    parts.resize(mark);
    return -1;
  }

  // Switches `out` to the `heads` layout when its Q, K, V are head splits and its output is merged
  // back; otherwise leaves it as it is.
  void read_rows(Node& out, std::vector<int>& parts) const {
    const size_t mark = parts.size();
    int q = split_heads(out.inputs[0], {0, 2, 1, 3}, parts);
    int k = q >= 0 ? split_heads(out.inputs[1], {0, 2, 3, 1}, parts) : -1;
    const int v = k >= 0 ? split_heads(out.inputs[2], {0, 2, 1, 3}, parts) : -1;
    const int y = v >= 0 ? merged_heads(out.outputs[0], parts) : -1;
    const int64_t heads = g_.value(out.inputs[0]).shape[1];
    if (y < 0 || attention_layout(g_.value(q).shape, g_.value(k).shape, g_.value(v).shape, heads).output !=
                     g_.value(y).shape) {
      parts.resize(mark);
      return;
    }
    // Rows scaled before the split (Whisper scales its query projection) join the op's scale.
    const float scale = unscaled(q, parts) * unscaled(k, parts);
    out.inputs[0] = q, out.inputs[1] = k, out.inputs[2] = v;
    out.outputs[0] = y;
    out.attrs.set("heads", Attribute::make_int(heads));
    out.attrs.set("scale", Attribute::make_float(out.attrs.get_float("scale", 1.f) * scale));
  }

  // The [B, S, H * D] rows under x = Transpose(Reshape(rows, [B, S, H, D]), perm), or -1. The
  // transpose may come in steps, with one-input Concats (GPT-2's key/value cache) between them.
  int split_heads(int x, const std::vector<int64_t>& perm, std::vector<int>& parts) const {
    const size_t mark = parts.size();
    std::vector<int64_t> total = {0, 1, 2, 3};  // x's dim i is dim total[i] of the split
    const Node* r = nullptr;
    while (!r) {
      if (const int inner = swapped_last_dims(x, parts); inner >= 0) {  // a Transpose [0, 1, 3, 2]
        for (int64_t& d : total) d = d >= 2 ? 5 - d : d;
        x = inner;
        continue;
      }
      const Node* t = producer(x, "Transpose", 1, parts);
      if (!t) t = producer(x, "Concat", 1, parts);
      if (!t) r = producer(x, "Reshape", 2, parts);
      if (!t && !r) break;
      if (t && t->op_type == "Transpose") {
        const std::vector<int64_t> p = t->attrs.get_ints("perm");
        if (p.size() != 4 || std::any_of(p.begin(), p.end(), [](int64_t d) { return d < 0 || d > 3; })) break;
        for (int64_t& d : total) d = p[size_t(d)];
      }
      if (t) x = t->inputs[0];
    }
    if (r && total == perm) {
      const Shape &rows = g_.value(r->inputs[0]).shape, &split = g_.value(x).shape;
      if (rows.size() == 3 && split.size() == 4 && split[0] == rows[0] && split[1] == rows[1] &&
          split[2] * split[3] == rows[2])
        return r->inputs[0];
    }
    parts.resize(mark);
    return -1;
  }

  // x [B, H, D, S] as dynamo writes the keys' last transpose: Reshape(Transpose(Reshape(k, [B * H, S,
  // D]), [0, 2, 1]), [B, H, D, S]); k, or -1.
  int swapped_last_dims(int x, std::vector<int>& parts) const {
    const size_t mark = parts.size();
    const Node* back = producer(x, "Reshape", 2, parts);
    const Node* t = back ? producer(back->inputs[0], "Transpose", 1, parts) : nullptr;
    const Node* flat = t && t->attrs.get_ints("perm") == std::vector<int64_t>{0, 2, 1}
                           ? producer(t->inputs[0], "Reshape", 2, parts)
                           : nullptr;
    if (flat) {
      const Shape &out = g_.value(x).shape, &in = g_.value(flat->inputs[0]).shape;
      if (out.size() == 4 && in == Shape{out[0], out[1], out[3], out[2]} &&
          g_.value(t->inputs[0]).shape == Shape{out[0] * out[1], out[3], out[2]})
        return flat->inputs[0];
    }
    parts.resize(mark);
    return -1;
  }

  // The [B, S, H * Dv] value that y ([B, H, S, Dv]) becomes through [Reshape to its own shape ->]
  // Transpose [0, 2, 1, 3] -> Reshape, or -1.
  int merged_heads(int y, std::vector<int>& parts) const {
    const size_t mark = parts.size();
    const Shape heads_first = g_.value(y).shape;
    const Node* n = consumer(y, "Reshape", parts);
    if (n && g_.value(n->outputs[0]).shape == heads_first) y = n->outputs[0];
    else if (n) parts.pop_back();
    const Node* t = consumer(y, "Transpose", parts);
    const Node* r = t && t->attrs.get_ints("perm") == std::vector<int64_t>{0, 2, 1, 3}
                        ? consumer(t->outputs[0], "Reshape", parts)
                        : nullptr;
    if (r && heads_first.size() == 4 &&
        g_.value(r->outputs[0]).shape == Shape{heads_first[0], heads_first[2], heads_first[1] * heads_first[3]})
      return r->outputs[0];
    parts.resize(mark);
    return -1;
  }

  // The only reader of `v` when it is an `op` writing float32; recorded in parts.
  const Node* consumer(int v, const char* op, std::vector<int>& parts) const {
    if (!mergeable_edge(g_, uses_, v) || consumer_[v] < 0) return nullptr;
    const Node& n = g_.nodes()[consumer_[v]];
    if (n.op_type != op || n.inputs.empty() || n.inputs[0] != v || g_.value(n.outputs[0]).dtype != DType::Float32)
      return nullptr;
    parts.push_back(consumer_[v]);
    return &n;
  }

  // A new value Transpose(keys, [0, 1, 3, 2]) of shape `shape`; its node waits in added() too.
  int transposed_keys(const std::string& name, int keys, const Shape& shape) {
    Attributes perm;
    perm.set("perm", Attribute::make_ints({0, 1, 3, 2}));
    return added_node(name + ".keys", "Transpose", {keys}, shape, std::move(perm));
  }

  static Tensor scalar(float v) {
    Tensor t = Tensor::empty(DType::Float32, {});
    t.data<float>()[0] = v;
    return t;
  }

 public:
  std::vector<Node>& added() { return added_; }

 private:
  // Strips a Mul by a scalar from `v` (an operand of Q . Kt), returning the scalar (1 when none).
  float unscaled(int& v, std::vector<int>& parts) const {
    const Node* n = producer(v, "Mul", 2, parts);
    if (!n) return 1.f;
    float c;
    for (int k = 0; k < 2; ++k)
      if (scalar_f32(g_, n->inputs[1 - k], c)) {
        v = n->inputs[k];
        return c;
      }
    parts.pop_back();
    return 1.f;
  }

  Graph& g_;
  std::vector<int> uses_, producer_, consumer_;
  std::vector<Node> added_;
};

}  // namespace

void fuse_attention(Graph& g) {
  AttentionMatcher matcher(g);
  std::vector<char> dead(g.nodes().size(), 0);
  std::vector<int> parts;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    if (dead[i] || g.nodes()[i].op_type != "MatMul") continue;
    Node saved = g.nodes()[i];
    if (!matcher.match(g.nodes()[i], parts)) continue;
    if (!claim(dead, parts)) g.nodes()[i] = std::move(saved);
  }
  erase_nodes(g, dead);
  if (matcher.added().empty()) return;
  for (Node& n : matcher.added()) g.add_node(std::move(n));
  g.sort_topologically();
}

}  // namespace metalnn
