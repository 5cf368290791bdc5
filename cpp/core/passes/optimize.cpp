#include "core/passes/passes.h"

namespace metalnn {

void optimize(Graph& g, const NodeEvaluator& evaluator) {
  fold_constants(g, evaluator);
  remove_identities(g);
  fold_batch_norm(g);
  fuse_bias(g);
  fuse_activations(g);
  g.remove_dead_nodes();
  g.infer_shapes();  // the rewrites keep shapes; re-running checks they did
}

}  // namespace metalnn
