// Resize schema (opset 11+ input form: X, roi, scales, sizes; the importer rewrites opset 10): modes
// nearest, linear and cubic with every coordinate_transformation_mode and nearest_mode, antialias for
// linear and cubic; scales or sizes are constants so the output shape is static.
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
  if (!one_of(mode, {"nearest", "linear", "cubic"}))
    ctx.fail_unsupported("mode '" + mode + "' is not supported (nearest, linear, cubic)");
  if (!one_of(coords, {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
                       "tf_crop_and_resize"}))
    ctx.fail_model("coordinate_transformation_mode '" + coords + "' is unknown");
  if (!one_of(nearest, {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}))
    ctx.fail_model("nearest_mode '" + nearest + "' is unknown");
  if (mode != "nearest" || coords == "tf_crop_and_resize") require_dtype(ctx, 0, {DType::Float32});
  for (int i = 1; i < 4; ++i)
    if (ctx.has_input(i)) ctx.require_constant(i, i == 1 ? "roi" : i == 2 ? "scales" : "sizes");
  if (coords == "tf_crop_and_resize" && !ctx.has_input(1)) ctx.fail_model("tf_crop_and_resize needs roi");
  const ResizeGeometry g = resolve_resize(ctx.node(), ctx.input_shape(0), ctx.constant_input(1),
                                          ctx.constant_input(2), ctx.constant_input(3));
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
  // A length-1 output samples 0, as the spec says (the reference takes -0.5; only cubic can tell).
  if (mode == "pytorch_half_pixel") return resized == 1 ? 0 : (x + 0.5) / scale - 0.5;
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

bool resize_uses_filter(const Node& n) {
  const std::string mode = n.attrs.get_string("mode", "nearest");
  return mode == "cubic" || (mode == "linear" && n.attrs.get_int("antialias", 0) != 0);
}

namespace {

double cubic_weight(double x, double a) {
  x = std::abs(x);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0;
}

}  // namespace

ResizeFilter resize_axis_filter(const Node& n, const ResizeGeometry& geo, const Shape& in, size_t d) {
  const bool cubic = n.attrs.get_string("mode", "nearest") == "cubic";
  const bool antialias = n.attrs.get_int("antialias", 0) != 0;
  const bool exclude_outside = n.attrs.get_int("exclude_outside", 0) != 0;
  const double a = n.attrs.get_float("cubic_coeff_a", -0.75f);
  const std::string coords = n.attrs.get_string("coordinate_transformation_mode", "half_pixel");
  // Kernel support in input rows: 2 (cubic) or 1 (linear), widened by 1 / scale when downscaling with
  // antialias; `half` rows on each side of the coordinate.
  const double stretch = antialias ? std::min(geo.scale[d], 1.0) : 1.0;
  const double support = cubic ? 2.0 : 1.0;
  const int64_t half = 1 - static_cast<int64_t>(std::floor(-support / stretch) + 1);
  const int64_t pad = half;  // the reference pads the row by half the neighbourhood, repeating its edges
  const int64_t len = in[d];
  ResizeFilter f;
  reserve_table(f.first, geo.out[d] + 1, n.label() + ": axis " + std::to_string(d) + " of the output");
  std::vector<double> w(static_cast<size_t>(2 * half));
  for (int64_t o = 0; o < geo.out[d]; ++o) {
    f.first.push_back(static_cast<int64_t>(f.index.size()));
    const double x = source_coordinate(coords, static_cast<double>(o), geo.scale[d], len, geo.out[d],
                                       geo.roi_start[d], geo.roi_end[d]);
    const bool outside = coords == "tf_crop_and_resize" && (x < 0 || x > static_cast<double>(len - 1));
    f.outside.push_back(outside);
    if (outside) continue;
    // The row at or left of x (left of it when x is whole) and its distance ratio in (0, 1].
    const int64_t base = static_cast<int64_t>(std::ceil(x)) - 1;
    const double ratio = x - static_cast<double>(base);
    // The neighbourhood rows base - half + 1 .. base + half, kept inside the padded row.
    int64_t start = base - half + 1;
    start = std::min(std::max(start, -pad), len + pad - 2 * half);
    double sum = 0;
    for (int64_t k = 0; k < 2 * half; ++k) {
      // Coefficients by offset from base, as in the reference even where the rows were shifted.
      const double dist = (static_cast<double>(k - half + 1) - ratio) * stretch;
      double c = cubic ? cubic_weight(dist, a) : std::max(0.0, 1 - std::abs(dist));
      if (exclude_outside && (start + k < 0 || start + k >= len)) c = 0;
      w[static_cast<size_t>(k)] = c;
      sum += c;
    }
    const bool normalise = antialias || exclude_outside;
    for (int64_t k = 0; k < 2 * half; ++k) {
      const double c = normalise ? w[static_cast<size_t>(k)] / sum : w[static_cast<size_t>(k)];
      if (c == 0) continue;
      f.index.push_back(std::min<int64_t>(std::max<int64_t>(start + k, 0), len - 1));
      f.weight.push_back(static_cast<float>(c));
    }
  }
  f.first.push_back(static_cast<int64_t>(f.index.size()));
  return f;
}

}  // namespace metalnn
