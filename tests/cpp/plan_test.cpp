// The activation arena: no two tensors that are alive at the same step overlap, and reuse makes the
// arena smaller than the sum of the intermediates.
#include <gtest/gtest.h>

#include <random>

#include "core/plan.h"

using namespace metalnn;

namespace {

// A graph whose nodes only need shapes: the planner never looks at op semantics.
Graph make_graph(int num_nodes, unsigned seed) {
  std::mt19937 rng(seed);
  Graph g;
  int in = g.add_value("input", DType::Float32);
  g.value(in).shape = {1, 16};
  g.value(in).has_shape = true;
  g.inputs().push_back(in);
  std::vector<int> produced = {in};
  for (int i = 0; i < num_nodes; ++i) {
    Node n;
    n.op_type = "Fake";
    n.name = "n" + std::to_string(i);
    int fan_in = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < fan_in; ++k) {
      // Mostly recent values, sometimes an old one, so lifetimes vary.
      size_t back = rng() % 4 == 0 ? rng() % produced.size() : std::min<size_t>(rng() % 3, produced.size() - 1);
      n.inputs.push_back(produced[produced.size() - 1 - back]);
    }
    int out = g.add_value("v" + std::to_string(i), DType::Float32);
    g.value(out).shape = {1 + static_cast<int64_t>(rng() % 7), 13 * (1 + static_cast<int64_t>(rng() % 5))};
    g.value(out).has_shape = true;
    n.outputs.push_back(out);
    produced.push_back(out);
    g.add_node(std::move(n));
  }
  g.outputs().push_back(produced.back());
  return g;
}

size_t bytes_of(const Graph& g, int v) {
  return static_cast<size_t>(shape_numel(g.value(v).shape)) * dtype_size(g.value(v).dtype);
}

}  // namespace

TEST(Plan, LiveTensorsNeverOverlap) {
  for (unsigned seed = 0; seed < 20; ++seed) {
    Graph g = make_graph(60, seed);
    Plan plan = Plan::build(g, 64);
    for (int a = 0; a < g.num_values(); ++a) {
      if (!plan.in_arena(a)) continue;
      EXPECT_EQ(plan.offsets[a] % 64, 0);
      EXPECT_LE(static_cast<size_t>(plan.offsets[a]) + bytes_of(g, a), plan.arena_bytes);
      for (int b = a + 1; b < g.num_values(); ++b) {
        if (!plan.in_arena(b)) continue;
        bool same_time = plan.first_step[a] <= plan.last_step[b] && plan.first_step[b] <= plan.last_step[a];
        bool same_space = plan.offsets[a] < plan.offsets[b] + static_cast<int64_t>(bytes_of(g, b)) &&
                          plan.offsets[b] < plan.offsets[a] + static_cast<int64_t>(bytes_of(g, a));
        EXPECT_FALSE(same_time && same_space) << "seed " << seed << ": " << g.value(a).name << " and "
                                              << g.value(b).name;
      }
    }
  }
}

TEST(Plan, ReusesMemory) {
  Graph g = make_graph(60, 7);
  Plan plan = Plan::build(g, 64);
  EXPECT_GT(plan.arena_bytes, 0u);
  EXPECT_LT(plan.arena_bytes, plan.unshared_bytes);
}

TEST(Plan, InputsOutputsAndConstantsStayOutOfTheArena) {
  Graph g = make_graph(10, 3);
  int w = g.add_constant("weight", Tensor::empty(DType::Float32, {4}));
  g.nodes()[0].inputs.push_back(w);
  Plan plan = Plan::build(g, 64);
  EXPECT_FALSE(plan.in_arena(g.inputs()[0]));
  EXPECT_FALSE(plan.in_arena(g.outputs()[0]));
  EXPECT_FALSE(plan.in_arena(w));
}

TEST(Plan, ChainNeedsOnlyTwoBuffers) {
  // a -> b -> c -> d -> e: at any step only the input and output of one node are alive.
  Graph g;
  int prev = g.add_value("x", DType::Float32);
  g.value(prev).shape = {256};
  g.value(prev).has_shape = true;
  g.inputs().push_back(prev);
  for (int i = 0; i < 6; ++i) {
    int out = g.add_value("t" + std::to_string(i), DType::Float32);
    g.value(out).shape = {256};
    g.value(out).has_shape = true;
    Node n;
    n.op_type = "Fake";
    n.name = "n" + std::to_string(i);
    n.inputs = {prev};
    n.outputs = {out};
    g.add_node(std::move(n));
    prev = out;
  }
  g.outputs().push_back(prev);
  Plan plan = Plan::build(g, 64);
  EXPECT_EQ(plan.arena_bytes, 2u * 1024u);
}

namespace {

int add_sized(Graph& g, const std::string& name, Shape shape) {
  int v = g.add_value(name, DType::Float32);
  g.value(v).shape = std::move(shape);
  g.value(v).has_shape = true;
  return v;
}

void add_fake(Graph& g, const std::string& op, std::vector<int> inputs, int output, int64_t axis = 1) {
  Node n;
  n.op_type = op;
  n.name = g.value(output).name + "_node";
  n.inputs = std::move(inputs);
  n.outputs = {output};
  if (op == "Concat") n.attrs.set("axis", Attribute::make_int(axis));
  g.add_node(std::move(n));
}

}  // namespace

TEST(Plan, ConcatInputsBecomeViewsOfItsOutput) {
  // x -> a, b; cat = Concat(a, x, b, c, c); y = f(cat); z = g(a) after y: a stays intact inside cat.
  Graph g;
  const int x = add_sized(g, "x", {1, 16, 4});
  g.inputs().push_back(x);
  const int a = add_sized(g, "a", {1, 32, 4}), b = add_sized(g, "b", {1, 8, 4}), c = add_sized(g, "c", {1, 4, 4});
  const int cat = add_sized(g, "cat", {1, 64, 4}), y = add_sized(g, "y", {1, 64, 4}), t = add_sized(g, "t", {1, 64, 4});
  const int z = add_sized(g, "z", {1, 32, 4}), u = add_sized(g, "u", {1, 64, 4});
  add_fake(g, "Fake", {x}, a);
  add_fake(g, "Fake", {x}, b);
  add_fake(g, "Fake", {x}, c);
  add_fake(g, "Concat", {a, x, b, c, c}, cat);
  add_fake(g, "Fake", {cat}, y);
  add_fake(g, "Fake", {y}, t);
  add_fake(g, "Fake", {t}, u);
  add_fake(g, "Fake", {a, u}, z);
  g.outputs().push_back(z);

  // a at byte 0, x (a graph input) left out, b at 768, c given twice left out.
  const std::vector<PlanView> views = concat_views(g, 64);
  ASSERT_EQ(views.size(), 2u);
  EXPECT_EQ(views[0].value, a);
  EXPECT_EQ(views[0].offset, 0u);
  EXPECT_EQ(views[1].value, b);
  EXPECT_EQ(views[1].offset, 48u * 16u);
  EXPECT_TRUE(concat_views(g, 1024).size() == 1u);  // b's offset is not a multiple of 1024

  const Plan plan = Plan::build(g, 64, views);
  EXPECT_EQ(plan.offsets[a], plan.offsets[cat]);
  EXPECT_EQ(plan.offsets[b], plan.offsets[cat] + 768);
  // No live tensor other than cat and its views overlaps them: cat is kept until z reads a.
  for (int v = 0; v < g.num_values(); ++v) {
    if (!plan.in_arena(v) || v == cat || v == a || v == b) continue;
    const bool same_space = plan.offsets[v] < plan.offsets[cat] + int64_t(bytes_of(g, cat)) &&
                            plan.offsets[cat] < plan.offsets[v] + int64_t(bytes_of(g, v));
    const bool same_time = plan.first_step[v] <= plan.last_step[cat] && plan.first_step[cat] <= plan.last_step[v];
    EXPECT_FALSE(same_space && same_time) << g.value(v).name;
  }
  EXPECT_EQ(plan.last_step[cat], plan.last_step[a]);
}

TEST(Plan, ConcatViewsNeedOnlyUnitDimsBeforeTheAxisAndNoGraphOutput) {
  Graph g;
  const int x = add_sized(g, "x", {2, 4});
  g.inputs().push_back(x);
  const int a = add_sized(g, "a", {2, 4}), b = add_sized(g, "b", {2, 4}), cat = add_sized(g, "cat", {2, 8});
  const int a2 = add_sized(g, "a2", {2, 4}), cat0 = add_sized(g, "cat0", {4, 4}), y = add_sized(g, "y", {1});
  add_fake(g, "Fake", {x}, a);
  add_fake(g, "Fake", {x}, b);
  add_fake(g, "Concat", {a, b}, cat);  // batch 2 along axis 1: bands are strided
  add_fake(g, "Fake", {x}, a2);
  add_fake(g, "Concat", {a2, b}, cat0, 0);  // axis 0, but the output is a graph output
  add_fake(g, "Fake", {cat, cat0}, y);
  g.outputs().push_back(y);
  g.outputs().push_back(cat0);
  EXPECT_TRUE(concat_views(g, 64).empty());
}

TEST(Plan, ReshapeOutputsShareTheirInputsBytes) {
  // a = f(x); r1 = Reshape(a); r2 = Flatten(r1); cat = Concat(b, c); rc = Reshape(c) after cat;
  // y = f(r2, rc) read after a's own last reader; o = Reshape(y) is a graph output.
  Graph g;
  const int x = add_sized(g, "x", {4, 16});
  g.inputs().push_back(x);
  const int a = add_sized(g, "a", {4, 16}), r1 = add_sized(g, "r1", {2, 2, 16}), r2 = add_sized(g, "r2", {64});
  const int b = add_sized(g, "b", {16}), c = add_sized(g, "c", {16}), cat = add_sized(g, "cat", {32});
  const int rc = add_sized(g, "rc", {4, 4}), t = add_sized(g, "t", {4, 16}), y = add_sized(g, "y", {64});
  const int o = add_sized(g, "o", {8, 8}), rx = add_sized(g, "rx", {64});
  add_fake(g, "Fake", {x}, a);
  add_fake(g, "Reshape", {a}, r1);
  add_fake(g, "Flatten", {r1}, r2);
  add_fake(g, "Reshape", {x}, rx);  // a graph input: left out
  add_fake(g, "Fake", {x}, b);
  add_fake(g, "Fake", {x}, c);
  add_fake(g, "Concat", {b, c}, cat, 0);
  add_fake(g, "Reshape", {c}, rc);
  add_fake(g, "Fake", {rx, cat}, t);
  add_fake(g, "Fake", {r2, rc, t}, y);
  add_fake(g, "Reshape", {y}, o);
  g.outputs().push_back(o);

  std::vector<PlanView> views = concat_views(g, 64);
  ASSERT_EQ(views.size(), 2u);
  const std::vector<PlanView> reshapes = reshape_views(g, views);
  ASSERT_EQ(reshapes.size(), 3u);
  EXPECT_EQ(reshapes[0].value, r1);
  EXPECT_EQ(reshapes[0].base, a);
  EXPECT_EQ(reshapes[1].value, r2);
  EXPECT_EQ(reshapes[1].base, a);  // the chain resolves to the first input
  EXPECT_EQ(reshapes[2].value, rc);
  EXPECT_EQ(reshapes[2].base, cat);  // c's band of the concat
  EXPECT_EQ(reshapes[2].offset, 64u);
  views.insert(views.end(), reshapes.begin(), reshapes.end());
  const Plan plan = Plan::build(g, 64, views);
  EXPECT_EQ(plan.offsets[r1], plan.offsets[a]);
  EXPECT_EQ(plan.offsets[r2], plan.offsets[a]);
  EXPECT_EQ(plan.offsets[rc], plan.offsets[cat] + 64);
  EXPECT_EQ(plan.last_step[a], plan.last_step[r2]);
  EXPECT_EQ(plan.last_step[cat], plan.last_step[rc]);
  // a, kept until y reads r2, overlaps no other value alive meanwhile (t in particular).
  for (int v = 0; v < g.num_values(); ++v) {
    if (!plan.in_arena(v) || v == a || v == r1 || v == r2) continue;
    const bool same_space = plan.offsets[v] < plan.offsets[a] + int64_t(bytes_of(g, a)) &&
                            plan.offsets[a] < plan.offsets[v] + int64_t(bytes_of(g, v));
    const bool same_time = plan.first_step[v] <= plan.last_step[a] && plan.first_step[a] <= plan.last_step[v];
    EXPECT_FALSE(same_space && same_time) << g.value(v).name;
  }
}

TEST(Plan, ElidedValueIsNotStoredAndItsReaderWritesAtTheProducersStep) {
  // x -> t0 -> t1 -> t2 -> y; t1 elided: n1 writes t2 itself, while t0 is still read.
  Graph g;
  const int x = add_sized(g, "x", {256});
  g.inputs().push_back(x);
  const int t0 = add_sized(g, "t0", {256}), t1 = add_sized(g, "t1", {256}), t2 = add_sized(g, "t2", {64});
  const int y = add_sized(g, "y", {256});
  add_fake(g, "Fake", {x}, t0);
  add_fake(g, "Fake", {t0}, t1);
  add_fake(g, "Fake", {t1}, t2);
  add_fake(g, "Fake", {t2}, y);
  g.outputs().push_back(y);
  const Plan plan = Plan::build(g, 64, {}, {t1});
  EXPECT_FALSE(plan.in_arena(t1));
  EXPECT_EQ(plan.first_step[t2], 1);
  ASSERT_TRUE(plan.in_arena(t0) && plan.in_arena(t2));
  const bool apart = plan.offsets[t2] >= plan.offsets[t0] + 1024 || plan.offsets[t0] >= plan.offsets[t2] + 256;
  EXPECT_TRUE(apart);
}
