// If and Loop have no kernel: constant folding inlines the branch taken or unrolls the loop in each
// specialisation, so a node still here has a condition or trip count known only at run time.
#include "cpu/kernel.h"

namespace metalnn::cpu {

std::unique_ptr<Kernel> make_control_flow_kernel(const Graph&, const Node& n) {
  throw UnsupportedOpError(n.label() + ": its condition or trip count is only known at run time; " +
                           "the cpu device runs If and Loop only once they fold away");
}

}  // namespace metalnn::cpu
