// If and Loop are never lowered: constant folding inlines the branch taken or unrolls the loop in each
// specialisation, and the ops of the branch run as any other.
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_control_flow(Lowering&, const Node& n) {
  throw UnsupportedOpError(n.label() + ": its condition or trip count is only known at run time; " +
                           "the GPU devices run If and Loop only once they fold away");
}

}  // namespace metalnn::gpu
