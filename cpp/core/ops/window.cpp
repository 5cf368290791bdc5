#include "core/ops/window.h"

#include <algorithm>
#include <string>

#include "core/error.h"

namespace metalnn {

namespace {

std::vector<int64_t> per_dim_attr(const Node& n, const char* name, int spatial, int64_t fallback, int64_t min) {
  std::vector<int64_t> v = n.attrs.get_ints(name, std::vector<int64_t>(spatial, fallback));
  if (static_cast<int>(v.size()) != spatial)
    throw ModelError(n.label() + ": " + name + " has " + std::to_string(v.size()) + " values, expected " +
                     std::to_string(spatial));
  for (int64_t x : v)
    if (x < min)
      throw ModelError(n.label() + ": " + name + " value " + std::to_string(x) + " must be >= " + std::to_string(min));
  return v;
}

}  // namespace

Window resolve_window(const Node& n, const std::vector<int64_t>& in_spatial, const std::vector<int64_t>& kernel,
                      bool ceil_mode) {
  const int s = static_cast<int>(in_spatial.size());
  Window w;
  w.in = in_spatial;
  w.kernel = kernel;
  if (static_cast<int>(kernel.size()) != s)
    throw ModelError(n.label() + ": kernel_shape has " + std::to_string(kernel.size()) + " values, expected " +
                     std::to_string(s));
  for (int64_t k : kernel)
    if (k < 1) throw ModelError(n.label() + ": kernel size " + std::to_string(k) + " must be >= 1");
  w.stride = per_dim_attr(n, "strides", s, 1, 1);
  w.dilation = per_dim_attr(n, "dilations", s, 1, 1);
  std::vector<int64_t> pads = per_dim_attr(n, "pads", 2 * s, 0, 0);
  std::string auto_pad = n.attrs.get_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER")
    throw ModelError(n.label() + ": auto_pad '" + auto_pad + "' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER");

  w.pad_begin.assign(s, 0);
  w.pad_end.assign(s, 0);
  w.out.assign(s, 0);
  for (int i = 0; i < s; ++i) {
    const int64_t in = in_spatial[i], st = w.stride[i];
    const int64_t extent = (kernel[i] - 1) * w.dilation[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      // Output covers ceil(in / stride) windows; the odd pad goes to the end (UPPER) or start (LOWER).
      const int64_t out = (in + st - 1) / st;
      const int64_t total = std::max<int64_t>(0, (out - 1) * st + extent - in);
      w.pad_begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      w.pad_end[i] = total - w.pad_begin[i];
      w.out[i] = out;
      continue;
    }
    if (auto_pad == "NOTSET") {
      w.pad_begin[i] = pads[i];
      w.pad_end[i] = pads[i + s];
    }
    const int64_t padded = in + w.pad_begin[i] + w.pad_end[i];
    if (extent > padded)
      throw ShapeError(n.label() + ": window of extent " + std::to_string(extent) + " (kernel " +
                       std::to_string(kernel[i]) + ", dilation " + std::to_string(w.dilation[i]) +
                       ") is larger than spatial dim " + std::to_string(i) + " of the padded input (" +
                       std::to_string(padded) + ")");
    int64_t out = (padded - extent + (ceil_mode ? st - 1 : 0)) / st + 1;
    // A window starting inside the end padding covers no input; ceil mode drops it.
    if (ceil_mode && (out - 1) * st >= in + w.pad_begin[i]) --out;
    w.out[i] = out;
  }
  return w;
}

}  // namespace metalnn
