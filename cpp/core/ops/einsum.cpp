// Einsum schema: any equation over float32 / int64 / int32 operands of one dtype, with ellipsis
// broadcasting and repeated labels (diagonals); the output shape comes from the parsed equation.
#include "core/ops/einsum.h"

#include <algorithm>

#include "core/ops/tensor_checks.h"

namespace metalnn {

namespace {

constexpr int kLetters = 52;  // a-z then A-Z; ellipsis dims take the labels after them

int letter_label(char c) { return c >= 'a' && c <= 'z' ? c - 'a' : c >= 'A' && c <= 'Z' ? 26 + (c - 'A') : -1; }

// Splits a term into letters and whether (and where) it holds "...".
struct Term {
  std::vector<int> letters_before, letters_after;
  bool ellipsis = false;
};

Term parse_term(const Node& n, const std::string& text) {
  Term t;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 3, "...") == 0) {
      if (t.ellipsis) throw ModelError(n.label() + ": term '" + text + "' has two ellipses");
      t.ellipsis = true;
      i += 2;
      continue;
    }
    const int l = letter_label(text[i]);
    if (l < 0) throw ModelError(n.label() + ": equation has the invalid character '" + std::string(1, text[i]) + "'");
    (t.ellipsis ? t.letters_after : t.letters_before).push_back(l);
  }
  return t;
}

// The labels of a term's dims when the ellipsis covers `dims` dims out of `total` broadcast ones.
std::vector<int> term_labels(const Term& t, int dims, int total) {
  std::vector<int> labels = t.letters_before;
  for (int j = 0; j < dims; ++j) labels.push_back(kLetters + total - dims + j);
  labels.insert(labels.end(), t.letters_after.begin(), t.letters_after.end());
  return labels;
}

}  // namespace

EinsumSpec parse_einsum(const Node& n, const std::vector<Shape>& inputs) {
  std::string eq;
  for (char c : n.attrs.get_string("equation", "")) if (c != ' ') eq += c;
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<Term> terms;
  for (size_t begin = 0;;) {
    const size_t comma = lhs.find(',', begin);
    terms.push_back(parse_term(n, lhs.substr(begin, comma - begin)));
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  if (terms.size() != inputs.size())
    throw ModelError(n.label() + ": equation '" + eq + "' has " + std::to_string(terms.size()) + " operands but the node has " +
                     std::to_string(inputs.size()) + " inputs");

  // Ellipsis dims per input, and how many the broadcast ellipsis has.
  std::vector<int> ellipsis_dims(inputs.size(), 0);
  int total = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int letters = static_cast<int>(terms[i].letters_before.size() + terms[i].letters_after.size());
    const int rank = static_cast<int>(inputs[i].size());
    if (terms[i].ellipsis ? rank < letters : rank != letters)
      throw ShapeError(n.label() + ": input " + std::to_string(i) + " " + shape_str(inputs[i]) +
                       " does not match its term in '" + eq + "'");
    ellipsis_dims[i] = terms[i].ellipsis ? rank - letters : 0;
    total = std::max(total, ellipsis_dims[i]);
  }

  EinsumSpec spec;
  spec.sizes.assign(kLetters + total, -1);
  std::vector<int> uses(kLetters + total, 0);
  for (size_t i = 0; i < inputs.size(); ++i) {
    spec.inputs.push_back(term_labels(terms[i], ellipsis_dims[i], total));
    for (size_t d = 0; d < inputs[i].size(); ++d) {
      const int l = spec.inputs[i][d];
      const int64_t size = inputs[i][d];
      ++uses[l];
      int64_t& known = spec.sizes[l];
      if (known < 0 || (l >= kLetters && known == 1)) known = size;
      else if (size != known && !(l >= kLetters && size == 1))
        throw ShapeError(n.label() + ": label sizes " + std::to_string(known) + " and " + std::to_string(size) +
                         " disagree in '" + eq + "'");
    }
  }
  if (arrow != std::string::npos) {
    const Term out = parse_term(n, eq.substr(arrow + 2));
    if (!out.ellipsis && total > 0)
      throw ModelError(n.label() + ": equation '" + eq + "' drops the ellipsis dims from its output");
    spec.output = term_labels(out, out.ellipsis ? total : 0, total);
    std::vector<int> sorted = spec.output;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
      throw ModelError(n.label() + ": output of '" + eq + "' repeats a label");
    for (int l : spec.output)
      if (spec.sizes[l] < 0) throw ModelError(n.label() + ": output of '" + eq + "' has a label no input has");
  } else {
    for (int j = 0; j < total; ++j) spec.output.push_back(kLetters + j);
    // Alphabetical in ASCII order: upper case (labels 26..51) first.
    for (int l = 26; l < kLetters; ++l) if (uses[l] == 1) spec.output.push_back(l);
    for (int l = 0; l < 26; ++l) if (uses[l] == 1) spec.output.push_back(l);
  }
  for (int64_t& s : spec.sizes) s = std::max<int64_t>(s, 0);
  return spec;
}

void infer_einsum(InferContext& ctx) {
  ctx.check_inputs(1, 1 << 16);
  require_dtype(ctx, 0, kNumericDtypes);
  std::vector<Shape> shapes;
  for (int i = 0; i < ctx.num_inputs(); ++i) {
    require_same_dtype(ctx, i, 0);
    shapes.push_back(ctx.input_shape(i));
  }
  const EinsumSpec spec = parse_einsum(ctx.node(), shapes);
  Shape out;
  for (int l : spec.output) out.push_back(spec.sizes[l]);
  ctx.set_output(0, ctx.input_dtype(0), out);
}

}  // namespace metalnn
