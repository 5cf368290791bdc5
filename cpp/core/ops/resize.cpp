// Resize schema (opset 11+ input form: X, roi, scales, sizes; the importer rewrites opset 10): modes
// nearest and linear with every coordinate_transformation_mode and nearest_mode; scales or sizes are
// constants so the output shape is static. Cubic and antialiased downscaling are rejected.
#include "core/ops/resize.h"

#include <algorithm>
#include <cmath>

#include "core/ops/tensor_checks.h"
#include "core/sizes.h"

namespace metalnn {

namespace {

bool present(const Tensor* t) { return t && t->numel() > 0; }

bool one_of(const std::string& v, std::initializer_list<const char*> names) {
  return std::any_of(names.begin(), names.end(), [&](const char* s) { return v == s; });
}

}  // namespace

ResizeGeometry resolve_resize(const Node& n, const Shape& in, const Tensor* roi, const Tensor* scales,
                              const Tensor* sizes) {
  const int rank = static_cast<int>(in.size());
  std::vector<int64_t> axes = n.attrs.get_ints("axes");
  if (axes.empty())
    for (int d = 0; d < rank; ++d) axes.push_back(d);
  for (int64_t& a : axes) {
    if (a < -rank || a >= rank) throw ModelError(n.label() + ": axis " + std::to_string(a) + " is out of range");
    if (a < 0) a += rank;
  }
  if (present(scales) == present(sizes))
    throw ModelError(n.label() + ": exactly one of scales and sizes must be given");
  const Tensor* given = present(scales) ? scales : sizes;
  if (given->numel() != static_cast<int64_t>(axes.size()))
    throw ShapeError(n.label() + ": " + (present(scales) ? "scales" : "sizes") + " has " +
                     std::to_string(given->numel()) + " values, expected " + std::to_string(axes.size()));

  ResizeGeometry g{in, std::vector<double>(rank, 1.0), std::vector<double>(rank, 0.0), std::vector<double>(rank, 1.0)};
  if (present(roi)) {
    if (roi->numel() != 2 * static_cast<int64_t>(axes.size()))
      throw ShapeError(n.label() + ": roi has " + std::to_string(roi->numel()) + " values, expected " +
                       std::to_string(2 * axes.size()));
    for (size_t i = 0; i < axes.size(); ++i) {
      g.roi_start[axes[i]] = roi->float_at(static_cast<int64_t>(i));
      g.roi_end[axes[i]] = roi->float_at(static_cast<int64_t>(axes.size() + i));
    }
  }
  const bool crop = n.attrs.get_string("coordinate_transformation_mode", "half_pixel") == "tf_crop_and_resize";
  if (present(scales)) {
    for (size_t i = 0; i < axes.size(); ++i) {
      const double s = static_cast<float>(scales->float_at(static_cast<int64_t>(i)));
      if (!(s > 0)) throw ModelError(n.label() + ": scales must be positive");
      const int d = static_cast<int>(axes[i]);
      g.scale[d] = s;
      const double extent = crop ? g.roi_end[d] - g.roi_start[d] : 1.0;
      const double out = std::floor(static_cast<double>(in[d]) * extent * s);
      // Checked as a double: casting a value past int64 is undefined.
      if (!(out >= 0 && out <= static_cast<double>(kMaxElements)))
        throw ShapeError(n.label() + ": scale " + std::to_string(s) + " gives " + std::to_string(out) +
                         " elements on axis " + std::to_string(d) + ", over the limit of 2^40");
      g.out[d] = static_cast<int64_t>(out);
    }
    return g;
  }
  const std::string policy = n.attrs.get_string("keep_aspect_ratio_policy", "stretch");
  if (!one_of(policy, {"stretch", "not_larger", "not_smaller"}))
    throw ModelError(n.label() + ": keep_aspect_ratio_policy '" + policy + "' is not stretch, not_larger or not_smaller");
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t size = sizes->int_at(static_cast<int64_t>(i));
    if (size < 0) throw ModelError(n.label() + ": sizes must be >= 0");
    if (in[axes[i]] == 0) throw ShapeError(n.label() + ": cannot resize the empty dim " + std::to_string(axes[i]));
    g.out[axes[i]] = size;
    g.scale[axes[i]] = static_cast<double>(size) / static_cast<double>(in[axes[i]]);
  }
  if (policy != "stretch") {
    double common = g.scale[axes[0]];
    for (int64_t a : axes) common = policy == "not_larger" ? std::min(common, g.scale[a]) : std::max(common, g.scale[a]);
    for (int64_t a : axes) {
      g.scale[a] = common;
      const double out = common * static_cast<double>(in[a]) + 0.5;  // rounds half up
      if (!(out <= static_cast<double>(kMaxElements)))
        throw ShapeError(n.label() + ": sizes give " + std::to_string(out) + " elements on axis " + std::to_string(a) +
                         ", over the limit of 2^40");
      g.out[a] = static_cast<int64_t>(out);
    }
  }
  return g;
}

void infer_resize(InferContext& ctx) {
  ctx.check_inputs(1, 4);
  const std::string mode = ctx.attrs().get_string("mode", "nearest");
  const std::string coords = ctx.attrs().get_string("coordinate_transformation_mode", "half_pixel");
  const std::string nearest = ctx.attrs().get_string("nearest_mode", "round_prefer_floor");
  if (!one_of(mode, {"nearest", "linear"}))
    ctx.fail_unsupported("mode '" + mode + "' is not supported (nearest, linear)");
  if (!one_of(coords, {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
                       "tf_crop_and_resize"}))
    ctx.fail_model("coordinate_transformation_mode '" + coords + "' is unknown");
  if (!one_of(nearest, {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}))
    ctx.fail_model("nearest_mode '" + nearest + "' is unknown");
  if (mode == "linear" || coords == "tf_crop_and_resize") require_dtype(ctx, 0, {DType::Float32});
  for (int i = 1; i < 4; ++i)
    if (ctx.has_input(i)) ctx.require_constant(i, i == 1 ? "roi" : i == 2 ? "scales" : "sizes");
  if (coords == "tf_crop_and_resize" && !ctx.has_input(1)) ctx.fail_model("tf_crop_and_resize needs roi");
  const ResizeGeometry g = resolve_resize(ctx.node(), ctx.input_shape(0), ctx.constant_input(1),
                                          ctx.constant_input(2), ctx.constant_input(3));
  if (ctx.attrs().get_int("antialias", 0) != 0 && mode != "nearest" &&
      std::any_of(g.scale.begin(), g.scale.end(), [](double s) { return s < 1.0; }))
    ctx.fail_unsupported("antialiased downscaling is not supported");
  ctx.set_output(0, ctx.input_dtype(0), g.out);
}

namespace {

double source_coordinate(const std::string& mode, double x, double scale, int64_t in, int64_t out, double start,
                         double end) {
  // The resized length is scale * in, fractional when the scale does not divide evenly, as in ONNX's
  // reference (ONNX Runtime uses the integer output length for align_corners and pytorch_half_pixel).
  const double resized = scale * static_cast<double>(in);
  if (mode == "align_corners") return resized == 1 ? 0 : x * static_cast<double>(in - 1) / (resized - 1);
  if (mode == "asymmetric") return x / scale;
  if (mode == "tf_crop_and_resize") {
    const double span = (end - start) * static_cast<double>(in - 1);
    return start * static_cast<double>(in - 1) + (resized == 1 ? span / 2 : x * span / (resized - 1));
  }
  if (mode == "pytorch_half_pixel") return resized == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
  if (mode == "half_pixel_symmetric") {
    const double offset = static_cast<double>(in) / 2 * (1 - static_cast<double>(out) / resized);
    return offset + (x + 0.5) / scale - 0.5;
  }
  return (x + 0.5) / scale - 0.5;  // half_pixel
}

int64_t nearest_index(const std::string& mode, double x) {
  const double f = std::floor(x);
  if (x == f) return static_cast<int64_t>(f);
  const double frac = x - f;
  bool up;
  if (mode == "floor") up = false;
  else if (mode == "ceil") up = true;
  else if (mode == "round_prefer_ceil") up = frac >= 0.5;
  else up = frac > 0.5;  // round_prefer_floor
  return static_cast<int64_t>(f) + (up ? 1 : 0);
}

}  // namespace

std::vector<ResizeTap> resize_axis_taps(const Node& n, const ResizeGeometry& geo, const Shape& in, size_t d) {
  const bool linear = n.attrs.get_string("mode", "nearest") == "linear";
  const std::string coords = n.attrs.get_string("coordinate_transformation_mode", "half_pixel");
  const std::string nearest = n.attrs.get_string("nearest_mode", "round_prefer_floor");
  auto clamp = [&](int64_t i) { return std::min<int64_t>(std::max<int64_t>(i, 0), in[d] - 1); };
  std::vector<ResizeTap> taps;
  reserve_table(taps, geo.out[d], n.label() + ": axis " + std::to_string(d) + " of the output");
  for (int64_t o = 0; o < geo.out[d]; ++o) {
    const double x = source_coordinate(coords, static_cast<double>(o), geo.scale[d], in[d], geo.out[d],
                                       geo.roi_start[d], geo.roi_end[d]);
    ResizeTap t{0, 0, 0.f, coords == "tf_crop_and_resize" && (x < 0 || x > static_cast<double>(in[d] - 1))};
    if (linear) {
      const double f = std::floor(x);
      t.i0 = clamp(static_cast<int64_t>(f));
      t.i1 = clamp(static_cast<int64_t>(f) + 1);
      t.w1 = static_cast<float>(x - f);
    } else {
      t.i0 = t.i1 = clamp(nearest_index(nearest, x));
    }
    taps.push_back(t);
  }
  return taps;
}

}  // namespace metalnn
