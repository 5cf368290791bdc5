// Graph bookkeeping: topological order, dead-node removal and the errors for broken graphs.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/graph.h"

using namespace metalnn;

namespace {
Node make_node(Graph& g, const std::string& name, std::vector<std::string> ins, std::vector<std::string> outs) {
  Node n;
  n.op_type = "Relu";
  n.name = name;
  for (auto& s : ins) n.inputs.push_back(g.value_id(s));
  for (auto& s : outs) n.outputs.push_back(g.value_id(s));
  return n;
}
}  // namespace

TEST(Graph, SortsTopologically) {
  Graph g;
  g.inputs().push_back(g.add_value("x", DType::Float32));
  g.add_node(make_node(g, "second", {"a"}, {"b"}));
  g.add_node(make_node(g, "first", {"x"}, {"a"}));
  g.outputs().push_back(g.find_value("b"));
  g.sort_topologically();
  ASSERT_EQ(g.nodes().size(), 2u);
  EXPECT_EQ(g.nodes()[0].name, "first");
  EXPECT_EQ(g.nodes()[1].name, "second");
}

TEST(Graph, MissingInputNamesTheNode) {
  Graph g;
  g.inputs().push_back(g.add_value("x", DType::Float32));
  g.add_node(make_node(g, "orphan", {"nowhere"}, {"y"}));
  g.outputs().push_back(g.find_value("y"));
  try {
    g.sort_topologically();
    FAIL() << "expected ModelError";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("Relu 'orphan'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nowhere"), std::string::npos) << e.what();
  }
}

TEST(Graph, RemovesDeadNodes) {
  Graph g;
  g.inputs().push_back(g.add_value("x", DType::Float32));
  g.add_node(make_node(g, "used", {"x"}, {"y"}));
  g.add_node(make_node(g, "unused", {"x"}, {"z"}));
  g.add_node(make_node(g, "unused_too", {"z"}, {"w"}));
  g.outputs().push_back(g.find_value("y"));
  g.remove_dead_nodes();
  ASSERT_EQ(g.nodes().size(), 1u);
  EXPECT_EQ(g.nodes()[0].name, "used");
}

TEST(Graph, DuplicateValueIsAModelError) {
  Graph g;
  g.add_value("x", DType::Float32);
  EXPECT_THROW(g.add_value("x", DType::Float32), ModelError);
}
