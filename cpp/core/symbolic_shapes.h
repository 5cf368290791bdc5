// Shape inference at load time, before any input size is known. Free input dimensions (-1) stay
// free: every node whose inputs have known sizes is checked by its schema as usual; a node whose
// result depends on a free size is inferred without inventing one, and is checked again, for real,
// when a concrete input shape is specialised (Model::run / Model::prepare).
#pragma once
#include "core/graph.h"

namespace metalnn {

// Sets every value's dtype and shape where they follow from the graph without knowing the free
// input sizes: a dimension that depends on them is -1, and a value whose rank or dtype depends on
// them (or on data computed from them, such as a Reshape shape read off a Shape chain) is left
// without a shape (has_shape false). The graph must be sorted. Throws the schema's error for a node
// that fails whatever the free sizes are, and UnsupportedOpError for an unknown op.
void infer_symbolic_shapes(Graph& g);

// Whether any input of `g` has a free (-1) dimension.
bool has_free_dims(const Graph& g);

}  // namespace metalnn
