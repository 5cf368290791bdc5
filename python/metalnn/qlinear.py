"""Lowers QOperator-format quantized ops into DequantizeLinear -> float op -> QuantizeLinear.

ONNX's QLinearConv, QLinearMatMul and ConvInteger, and the com.microsoft ops ONNX Runtime's quantizer
writes (QLinearAdd, QGemm, ...), become the QDQ form of the same computation, so every device runs
them with its float kernels and a pass that recognises the QDQ pattern can run them as integer
kernels. ONNX Runtime accumulates in int32 and rounds once; the float path rounds the same real value
computed in float32, so an output can differ by one quantization step where that value lies within
float error of a rounding boundary. ConvInteger stays exact: its integer sums are checked to fit
float32's 24-bit mantissa.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import onnx

from .errors import ModelError, UnsupportedOpError

MICROSOFT = "com.microsoft"
_INT32 = onnx.TensorProto.INT32
# Integers up to this magnitude, and every partial sum of them, are exact in float32.
_EXACT_FLOAT32 = 1 << 24


class _Lowering:
    """Builds one quantized node's float subgraph in the importer's graph."""

    def __init__(self, imp: Any, op: str, name: str, inputs: list, outputs: list, attrs: dict):
        self.imp, self.op, self.name = imp, op, name
        self.inputs, self.outputs, self.attrs = inputs, outputs, attrs
        self.count = 0

    @property
    def label(self) -> str:
        return f"{self.op} '{self.name}'"

    def input(self, i: int) -> str:
        """Input `i`'s value name, '' when absent."""
        return self.inputs[i] if i < len(self.inputs) else ""

    def require(self, *indices: int) -> None:
        for i in indices:
            if not self.input(i):
                raise ModelError(f"{self.label}: required input {i} is missing")

    def node(self, op: str, inputs: list, attrs: dict | None = None, output: str = "") -> str:
        self.count += 1
        output = output or f"{self.name}.{op.lower()}{self.count}"
        self.imp.graph.add_node(op, f"{self.name}/{op}{self.count}", inputs, [output], attrs or {})
        return output

    def constant(self, tag: str, array: np.ndarray) -> str:
        return self.imp.constant(f"{self.name}.{tag}", np.asarray(array))

    def array(self, value: str) -> np.ndarray | None:
        """The constant value of `value`, or None when it is computed."""
        return _constant(self.imp, value)

    def quant_param(self, value: str) -> tuple[str, int | None]:
        """A scale or zero point, a 1-element tensor made a scalar; and its element count when constant."""
        array = self.array(value)
        if array is None:
            return value, None
        if array.ndim > 1:
            raise UnsupportedOpError(f"{self.label}: scale or zero point '{value}' has shape {list(array.shape)}; "
                                     "only scalars and 1-D vectors are supported")
        if array.size == 1 and array.ndim == 1:
            return self.constant("param", array.reshape(())), 1
        return value, array.size

    def dequantize(self, x: str, scale: str, zero_point: str, axis: int) -> str:
        """DequantizeLinear of `x`, per `axis` when the scale or zero point is a vector."""
        scale_array, zp_array = self.array(scale), self.array(zero_point)
        scale, scale_size = self.quant_param(scale)
        inputs = [x, scale]
        zp_size = None
        if zero_point:
            zero_point, zp_size = self.quant_param(zero_point)
            inputs.append(zero_point)
        if scale_array is not None and zp_array is not None and scale_array.size != zp_array.size:
            if scale_array.size == 1:  # per-axis zero points with one scale
                inputs[1] = self.constant("scale", np.full(zp_array.size, scale_array.reshape(()), np.float32))
            elif zp_array.size == 1:  # one zero point with per-axis scales
                inputs[2] = self.constant("zero_point", np.full(scale_array.size, zp_array.reshape(()), zp_array.dtype))
        per_axis = (scale_size or 2) > 1 or (zp_size or 1) > 1
        return self.node("DequantizeLinear", inputs, {"axis": axis} if per_axis else {})

    def quantize(self, y: str, scale: str, zero_point: str, output: str, like: str, axis: int = 1) -> None:
        """QuantizeLinear of `y` into `output`; an absent zero point is a zero of `like`'s dtype."""
        scale, scale_size = self.quant_param(scale)
        if zero_point:
            zero_point, _ = self.quant_param(zero_point)
        else:
            zero_point = self.constant("zero_point", np.zeros((), self.dtype_of(like)))
        attrs = {"axis": axis} if scale_size != 1 else {}
        self.node("QuantizeLinear", [y, scale, zero_point], attrs, output)
        if scale_size == 1:
            _quantized_values(self.imp)[output] = (scale, zero_point)

    def dtype_of(self, value: str) -> np.dtype:
        array = self.array(value)
        if array is not None:
            return array.dtype
        elem = _declared_types(self.imp).get(value)
        if not elem:
            raise UnsupportedOpError(f"{self.label}: '{value}' has no declared type, so an omitted zero point's "
                                     "type is unknown; give the zero point")
        return onnx.helper.tensor_dtype_to_np_dtype(elem)

    def product(self, a: str, b: str) -> str:
        """a * b, computed now when both are constants."""
        x, y = self.array(a), self.array(b)
        if x is not None and y is not None:
            return self.constant("scale", (x.astype(np.float32) * y.astype(np.float32)).reshape(-1))
        return self.node("Mul", [a, b])


def _quantized_values(imp: Any) -> dict[str, tuple[str, str]]:
    """Per-tensor quantized values seen so far -> (scale, zero point), for the ops that follow them."""
    if not hasattr(imp, "_qlinear_quantized"):
        imp._qlinear_quantized = {}
    return imp._qlinear_quantized


def _constant(imp: Any, name: str) -> np.ndarray | None:
    """Initializer `name`'s value (converted once), or None when `name` is not an initializer."""
    if not hasattr(imp, "_qlinear_initializers"):
        imp._qlinear_initializers = {init.name: init for init in imp.model.graph.initializer}
    value = imp._qlinear_initializers.get(name) if name else None
    if isinstance(value, onnx.TensorProto):
        value = imp._qlinear_initializers[name] = imp.tensor_array(value)
    return value


def _declared_types(imp: Any) -> dict[str, int]:
    g = imp.model.graph
    return {info.name: info.type.tensor_type.elem_type for info in (*g.input, *g.value_info, *g.output)}


def _qlinear_conv(q: _Lowering) -> None:
    q.require(0, 1, 3, 4, 6)
    x = q.dequantize(q.input(0), q.input(1), q.input(2), 1)
    w = q.dequantize(q.input(3), q.input(4), q.input(5), 0)
    inputs = [x, w]
    if q.input(8):  # int32 bias, quantized with scale x_scale * w_scale and zero point 0
        bias_scale = q.product(q.input(1), q.input(4))
        inputs.append(q.dequantize(q.input(8), bias_scale, "", 0))
    y = q.node("Conv", inputs, dict(q.attrs))
    q.quantize(y, q.input(6), q.input(7), q.outputs[0], q.input(0))


def _qlinear_matmul(q: _Lowering) -> None:
    """Scales may be per row of a and y, per column of b."""
    q.require(0, 1, 3, 4, 6)
    a = q.dequantize(q.input(0), q.input(1), q.input(2), -2)
    b = q.dequantize(q.input(3), q.input(4), q.input(5), -1)
    q.quantize(q.node("MatMul", [a, b]), q.input(6), q.input(7), q.outputs[0], q.input(0), axis=-2)


def _conv_integer(q: _Lowering) -> None:
    """Exact: the products of int8/uint8 differences are integers, and the float32 sums stay exact
    while every partial sum stays below 2^24, which is checked from the weights' values."""
    q.require(0, 1)
    x, w, x_zp, w_zp = q.input(0), q.input(1), q.input(2), q.input(3)
    one = q.constant("one", np.array(1.0, np.float32))
    weight = q.array(w)
    if weight is None:
        shape = _declared_shapes(q.imp).get(w)
        if shape is None or any(d <= 0 for d in shape):
            raise UnsupportedOpError(f"{q.label}: weight '{w}' is neither constant nor of a declared shape, so "
                                     "the exactness of its float32 sums cannot be checked")
        terms = int(np.prod(shape[1:]))
        bound = terms * 255 * 255
    else:
        zp = q.array(w_zp) if w_zp else np.zeros((), weight.dtype)
        if zp is None:
            raise UnsupportedOpError(f"{q.label}: w_zero_point '{w_zp}' must be a constant")
        zp = zp.reshape((-1,) + (1,) * (weight.ndim - 1)) if zp.ndim else zp
        per_channel = np.abs(weight.astype(np.int64) - zp).reshape(weight.shape[0], -1).sum(axis=1)
        bound = int(per_channel.max(initial=0)) * _largest_difference(q, x, x_zp)
    if bound >= _EXACT_FLOAT32:
        raise UnsupportedOpError(f"{q.label}: its integer sums may reach {bound}, beyond the 2^24 that float32 "
                                 "holds exactly")
    xf = q.dequantize(x, one, x_zp, 1)
    w_zp_size = 1
    if w_zp:
        zp = q.array(w_zp)
        shape = _declared_shapes(q.imp).get(w_zp) if zp is None else list(zp.shape)
        if shape is None or any(d < 0 for d in shape):
            raise UnsupportedOpError(f"{q.label}: w_zero_point '{w_zp}' is neither constant nor of a declared shape")
        w_zp_size = int(np.prod(shape))
    w_scale = one if w_zp_size == 1 else q.constant("ones", np.ones(w_zp_size, np.float32))
    wf = q.dequantize(w, w_scale, w_zp, 0)
    y = q.node("Conv", [xf, wf], {**q.attrs, "_exact_sum": 1})
    q.node("Cast", [y], {"to": _INT32}, q.outputs[0])


def _largest_difference(q: _Lowering, x: str, x_zp: str) -> int:
    """The largest |x - x_zero_point| x's dtype allows."""
    zp = q.array(x_zp) if x_zp else np.zeros((), np.uint8)
    try:
        info = np.iinfo(q.dtype_of(x))
    except (UnsupportedOpError, ValueError):
        return 255
    if zp is None:
        return 255
    zp = zp.astype(np.int64)
    return int(max(np.abs(info.min - zp).max(), np.abs(info.max - zp).max()))


def _declared_shapes(imp: Any) -> dict[str, list[int]]:
    g = imp.model.graph
    return {info.name: [d.dim_value if d.HasField("dim_value") else -1 for d in info.type.tensor_type.shape.dim]
            for info in (*g.input, *g.value_info, *g.output) if info.type.tensor_type.HasField("shape")}


def _binary(op: str) -> Callable[[_Lowering], None]:
    """com.microsoft QLinearAdd / QLinearMul: (A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp), broadcasting."""

    def lower(q: _Lowering) -> None:
        q.require(0, 1, 3, 4, 6)
        a = q.dequantize(q.input(0), q.input(1), q.input(2), 1)
        b = q.dequantize(q.input(3), q.input(4), q.input(5), 1)
        q.quantize(q.node(op, [a, b]), q.input(6), q.input(7), q.outputs[0], q.input(0))

    return lower


def _unary(op: str, **fixed: Any) -> Callable[[_Lowering], None]:
    """com.microsoft ops of the form (X, X_scale, X_zp, Y_scale, Y_zp) around one float op."""

    def lower(q: _Lowering) -> None:
        q.require(0, 1, 3)
        x = q.dequantize(q.input(0), q.input(1), q.input(2), 1)
        attrs = {key: q.attrs.get(key, default) for key, default in fixed.items()}
        q.quantize(q.node(op, [x], attrs), q.input(3), q.input(4), q.outputs[0], q.input(0))

    return lower


def _channels_last(q: _Lowering, rank: int | None) -> tuple[list[int], list[int]] | None:
    """Transposes to NCHW and back when the op's attribute says its tensors are NHWC."""
    if not q.attrs.pop("channels_last", 0):
        return None
    if rank is None:
        raise UnsupportedOpError(f"{q.label}: channels_last needs the input's rank declared")
    to_first = [0, rank - 1, *range(1, rank - 1)]
    return to_first, [0, *range(2, rank), 1]


def _qlinear_pool(op: str) -> Callable[[_Lowering], None]:
    """com.microsoft QLinearAveragePool / QLinearGlobalAveragePool, NCHW or (channels_last) NHWC."""

    def lower(q: _Lowering) -> None:
        q.require(0, 1, 3)
        rank = len(q.attrs["kernel_shape"]) + 2 if "kernel_shape" in q.attrs else q.imp.declared_rank(q.input(0))
        perms = _channels_last(q, rank)
        x = q.dequantize(q.input(0), q.input(1), q.input(2), 1)
        if perms:
            x = q.node("Transpose", [x], {"perm": perms[0]})
        y = q.node(op, [x], dict(q.attrs))
        if perms:
            y = q.node("Transpose", [y], {"perm": perms[1]})
        q.quantize(y, q.input(3), q.input(4), q.outputs[0], q.input(0))

    return lower


def _qlinear_softmax(q: _Lowering) -> None:
    """com.microsoft QLinearSoftmax; `opset` below 13 is the older Softmax that flattens to 2-D at `axis`."""
    q.require(0, 1, 3)
    attrs = {"axis": q.attrs.get("axis", -1)}
    if q.attrs.get("opset", 13) < 13:
        attrs["_coerce_2d"] = 1
    x = q.dequantize(q.input(0), q.input(1), q.input(2), 1)
    q.quantize(q.node("Softmax", [x], attrs), q.input(3), q.input(4), q.outputs[0], q.input(0))


def _qlinear_concat(q: _Lowering) -> None:
    """com.microsoft QLinearConcat: (Y_scale, Y_zp, then X, X_scale, X_zp per input)."""
    if len(q.inputs) < 5 or (len(q.inputs) - 2) % 3:
        raise ModelError(f"{q.label}: has {len(q.inputs)} inputs, expected Y_scale, Y_zero_point and a "
                         "(X, X_scale, X_zero_point) triple per input")
    q.require(0, 1)
    parts = [q.dequantize(q.input(i), q.input(i + 1), q.input(i + 2), 1) for i in range(2, len(q.inputs), 3)]
    y = q.node("Concat", parts, {"axis": q.attrs.get("axis", 1)})
    q.quantize(y, q.input(0), q.input(1), q.outputs[0], q.input(2))


def _qgemm(q: _Lowering) -> None:
    """com.microsoft QGemm: (A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp); B's scale may be per
    output column; C is int32 with scale alpha * a_scale * b_scale; without y_scale the output is float."""
    q.require(0, 1, 3, 4)
    alpha = float(q.attrs.get("alpha", 1.0))
    a = q.dequantize(q.input(0), q.input(1), q.input(2), 1)
    b = q.dequantize(q.input(3), q.input(4), q.input(5), 0 if q.attrs.get("transB", 0) else 1)
    inputs = [a, b]
    if q.input(6):
        scale = q.product(q.input(1), q.input(4))
        c = q.node("Cast", [q.input(6)], {"to": onnx.TensorProto.FLOAT})
        inputs.append(q.node("Mul", [q.node("Mul", [c, scale]), q.constant("alpha", np.array(alpha, np.float32))]))
    attrs = {"alpha": alpha, "transA": q.attrs.get("transA", 0), "transB": q.attrs.get("transB", 0)}
    if not q.input(7):
        q.node("Gemm", inputs, attrs, q.outputs[0])
        return
    q.quantize(q.node("Gemm", inputs, attrs), q.input(7), q.input(8), q.outputs[0], q.input(0))


def _dynamic_quantize_matmul(q: _Lowering) -> None:
    """com.microsoft DynamicQuantizeMatMul: (A float, B, b_scale, b_zp, bias); A quantized to uint8 per
    tensor at run time, as DynamicQuantizeLinear does."""
    q.require(0, 1, 2)
    quantized = [f"{q.name}.a_quantized", f"{q.name}.a_scale", f"{q.name}.a_zero_point"]
    q.count += 1
    q.imp.graph.add_node("DynamicQuantizeLinear", f"{q.name}/DynamicQuantizeLinear", [q.input(0)], quantized, {})
    a = q.node("DequantizeLinear", quantized)
    b = q.dequantize(q.input(1), q.input(2), q.input(3), -1)
    if not q.input(4):
        q.node("MatMul", [a, b], output=q.outputs[0])
        return
    q.node("Add", [q.node("MatMul", [a, b]), q.input(4)], output=q.outputs[0])


_LOWERINGS: dict[tuple[str, str], Callable[[_Lowering], None]] = {
    ("", "QLinearConv"): _qlinear_conv,
    ("", "QLinearMatMul"): _qlinear_matmul,
    ("", "ConvInteger"): _conv_integer,
    (MICROSOFT, "QLinearAdd"): _binary("Add"),
    (MICROSOFT, "QLinearMul"): _binary("Mul"),
    (MICROSOFT, "QLinearSigmoid"): _unary("Sigmoid"),
    (MICROSOFT, "QLinearLeakyRelu"): _unary("LeakyRelu", alpha=0.01),
    (MICROSOFT, "QLinearGlobalAveragePool"): _qlinear_pool("GlobalAveragePool"),
    (MICROSOFT, "QLinearAveragePool"): _qlinear_pool("AveragePool"),
    (MICROSOFT, "QLinearSoftmax"): _qlinear_softmax,
    (MICROSOFT, "QLinearConcat"): _qlinear_concat,
    (MICROSOFT, "QGemm"): _qgemm,
    (MICROSOFT, "DynamicQuantizeMatMul"): _dynamic_quantize_matmul,
}

# The ops lowered here, for the lists of ops the engine runs.
ONNX_OPS = frozenset(op for domain, op in _LOWERINGS if domain == "")
MICROSOFT_OPS = frozenset(op for domain, op in _LOWERINGS if domain == MICROSOFT)


# Ops ONNX Runtime's QOperator format applies to quantized tensors directly. Those that only move or
# pick elements keep the scale and zero point; those the engine runs in float only (MaxPool) run as
# DequantizeLinear -> op -> QuantizeLinear with them, which is exact for a max.
_KEEPS_QUANTIZATION = frozenset({"Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose", "Identity",
                                 "Slice", "Gather", "Split", "MaxPool"})
_FLOAT_ONLY = frozenset({"MaxPool"})


def lower_on_quantized(imp: Any, op_type: str, name: str, inputs: list, outputs: list, attrs: dict) -> bool:
    """Runs a float-only op given a per-tensor quantized input through its float form; returns whether it
    did. Notes the outputs of ops that keep their input's quantization."""
    quantized = _quantized_values(imp)
    params = quantized.get(inputs[0]) if inputs else None
    if params is None and op_type in _FLOAT_ONLY:
        params = _integer_params(imp, name, inputs[0])
    if params is None or op_type not in _KEEPS_QUANTIZATION:
        return False
    for output in outputs:
        if output:
            quantized[output] = params
    if op_type not in _FLOAT_ONLY:
        return False
    if len([o for o in outputs if o]) != 1:
        raise UnsupportedOpError(f"{op_type} '{name}': on a quantized input, only its first output is supported")
    q = _Lowering(imp, op_type, name, inputs, outputs, attrs)
    y = q.node(op_type, [q.node("DequantizeLinear", [inputs[0], *params]), *inputs[1:]], attrs)
    q.node("QuantizeLinear", [y, *params], {}, outputs[0])
    return True


def _integer_params(imp: Any, name: str, value: str) -> tuple[str, str] | None:
    """Scale 1 and zero point 0 for a declared int8/uint8 value of unknown quantization: a max of its
    integers is the same in float."""
    elem = _declared_types(imp).get(value)
    if elem not in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8):
        return None
    dtype = onnx.helper.tensor_dtype_to_np_dtype(elem)
    return (imp.constant(f"{name}.scale", np.array(1.0, np.float32)), imp.constant(f"{name}.zero_point",
                                                                                   np.zeros((), dtype)))


def note_quantize_linear(imp: Any, inputs: list, outputs: list) -> None:
    """Notes a QuantizeLinear's per-tensor scale and zero point for the ops that follow it."""
    if len(inputs) > 2 and inputs[2]:
        scale = _constant(imp, inputs[1])
        if scale is not None and scale.size == 1:
            _quantized_values(imp)[outputs[0]] = (inputs[1], inputs[2])


def _domain(domain: str) -> str:
    return "" if domain == "ai.onnx" else domain


def lowers(domain: str, op_type: str) -> bool:
    """Whether `domain`.`op_type` is lowered here."""
    return (_domain(domain), op_type) in _LOWERINGS


def lower(imp: Any, domain: str, op_type: str, name: str, inputs: list, outputs: list, attrs: dict) -> None:
    """Adds the float subgraph of quantized node `name` to the importer's graph."""
    if len([o for o in outputs if o]) != 1:
        raise ModelError(f"{op_type} '{name}': has {len(outputs)} outputs, expected 1")
    _LOWERINGS[(_domain(domain), op_type)](_Lowering(imp, op_type, name, inputs, outputs, dict(attrs)))
