// The CPU device as the NodeEvaluator (core/evaluator.h) used for load-time evaluation: the
// reference kernels, on the global thread pool.
#pragma once
#include "core/evaluator.h"

namespace metalnn::cpu {

const NodeEvaluator& node_evaluator();

}  // namespace metalnn::cpu
