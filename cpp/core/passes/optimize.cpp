#include "core/passes/passes.h"

namespace metalnn {

void optimize(Graph& g, const NodeEvaluator& evaluator) {
  fold_constants(g, evaluator, true);
  remove_identities(g);
  fuse_gelu(g);
  fuse_attention(g);
  fold_batch_norm(g);
  fuse_bias(g);
  fuse_swish(g);
  fuse_activations(g);
  pool_quantized(g);
  fuse_quantized(g);
  g.remove_dead_nodes();
  // The weights fuse_quantized left dequantized fold to float now, and the float passes get a
  // second look at the ops that read them.
  fold_constants(g, evaluator);
  fold_batch_norm(g);
  fuse_bias(g);
  fold_channel_scale(g);  // after fuse_bias and fuse_activations, so the MatMul shows its bias and activation
  fuse_residual(g);  // after fuse_quantized, which knows Conv without it
  fuse_activations(g);
  g.remove_dead_nodes();
  g.infer_shapes();  // the rewrites keep shapes; re-running checks they did
}

}  // namespace metalnn
