"""MatMulNBits (com.microsoft) against ONNX Runtime: every block size, K not a multiple of the block,
zero points absent / packed 4-bit / float, bias, one row (decoding) and several (prefill), batch dims.
Also: the packed weights stay 4-bit in memory and in a saved .metalnn file, and whole decoders
quantised by ONNX Runtime's MatMulNBitsQuantizer give ONNX Runtime's logits."""

import collections
import io
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import metalnn
from op_check import Tolerance, check_model, run_reference

MS = "com.microsoft"
BLOCK_SIZES = [16, 32, 64, 128, 256]


def nbits_model(rng, a_shape, n, block, zero_points=None, bias=False, flat_scales=False, extra=None):
    """A one-node MatMulNBits model with random codes; returns (model, feeds)."""
    k = a_shape[-1]
    k_blocks = -(-k // block)
    inits = [
        numpy_helper.from_array(rng.integers(0, 256, (n, k_blocks, block // 2), dtype=np.uint8), "B"),
        numpy_helper.from_array(rng.uniform(0.01, 0.1, (n * k_blocks,) if flat_scales else (n, k_blocks))
                                .astype(np.float32), "scales"),
    ]
    inputs = ["A", "B", "scales"]
    if zero_points == "packed":
        inits.append(numpy_helper.from_array(rng.integers(0, 256, (n, -(-k_blocks // 2)), dtype=np.uint8), "zp"))
    elif zero_points == "float":
        inits.append(numpy_helper.from_array(rng.uniform(0, 15, (n, k_blocks)).astype(np.float32), "zp"))
    inputs.append("zp" if zero_points else "")
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(n).astype(np.float32), "bias"))
        inputs += ["", "bias"]
    attrs = {"K": k, "N": n, "bits": 4, "block_size": block, **(extra or {})}
    node = helper.make_node("MatMulNBits", inputs, ["Y"], name="nbits_node", domain=MS, **attrs)
    graph = helper.make_graph(
        [node], "nbits", [helper.make_tensor_value_info("A", TensorProto.FLOAT, list(a_shape))],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, list(a_shape[:-1]) + [n])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid(MS, 1)])
    return model, {"A": rng.standard_normal(a_shape).astype(np.float32)}


def _check(model, feeds, target):
    # Sums of K products of weights up to ~1.5: float32 differs from ONNX Runtime by summation order.
    tolerance = target.tolerance if target.precision == "float16" else Tolerance(rtol=1e-4, atol=2e-5)
    check_model(model, feeds, target, tolerance)


@pytest.mark.parametrize("zero_points", [None, "packed", "float"])
@pytest.mark.parametrize("block", BLOCK_SIZES)
def test_decode_row(block, zero_points, target, rng):
    """M = 1, K = 2 blocks + 5 (a padded last block), N odd."""
    _check(*nbits_model(rng, (1, 2 * block + 5), 37, block, zero_points), target)


@pytest.mark.parametrize("zero_points", [None, "packed", "float"])
@pytest.mark.parametrize("block", [16, 64, 256])
def test_prefill_rows(block, zero_points, target, rng):
    """M = 7 and M = 3 rows, batch dims, bias."""
    _check(*nbits_model(rng, (2, 7, 3 * block - 9), 45, block, zero_points, bias=True), target)
    _check(*nbits_model(rng, (3, block + 1), 19, block, zero_points, bias=True), target)


def test_free_dims(target, rng):
    """A with free batch and sequence dims, run at two sizes."""
    model, _ = nbits_model(rng, (2, 3, 48), 21, 32, "packed", bias=True)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[0].dim_param, dims[1].dim_param = "batch", "sequence"
    model.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    model.graph.output[0].type.tensor_type.shape.dim[1].dim_param = "sequence"
    for shape in [(1, 1, 48), (2, 5, 48)]:
        _check(model, {"A": rng.standard_normal(shape).astype(np.float32)}, target)


def test_wide_k_one_row(target, rng):
    """A decoder-sized row: K = 1024 in blocks of 32, N = 96, flat scales, packed zero points."""
    _check(*nbits_model(rng, (1, 1, 1024), 96, 32, "packed", bias=True, flat_scales=True), target)


def test_many_rows_large(target, rng):
    """Prefill of 33 rows over several panels of N (the CPU's dequantise + sgemm path)."""
    _check(*nbits_model(rng, (33, 200), 70, 32, "packed"), target)


@pytest.mark.parametrize("change,error,match", [
    ({"bits": 8}, metalnn.UnsupportedOpError, "bits = 8; only 4-bit"),
    ({"block_size": 24}, metalnn.ModelError, "block_size 24 is not a power of two"),
    ({"K": 40}, metalnn.ShapeError, "expected K = 40"),
])
def test_bad_attributes(change, error, match, rng):
    model, _ = nbits_model(rng, (1, 32), 8, 16)
    for attr in model.graph.node[0].attribute:
        if attr.name in change:
            attr.i = change[attr.name]
    with pytest.raises(error, match=f"nbits_node.*{match}"):
        metalnn.load(model, device="cpu")


def test_g_idx_refused(rng):
    model, _ = nbits_model(rng, (1, 32), 8, 16)
    model.graph.initializer.append(numpy_helper.from_array(np.zeros(32, np.int32), "g_idx"))
    model.graph.node[0].input[:] = ["A", "B", "scales", "", "g_idx"]
    with pytest.raises(metalnn.UnsupportedOpError, match="nbits_node.*g_idx 'g_idx'"):
        metalnn.load(model, device="cpu")


def test_bad_weight_shape(rng):
    model, _ = nbits_model(rng, (1, 40), 8, 16)
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.zeros((8, 2, 8), np.uint8), "B"))
    with pytest.raises(metalnn.ShapeError, match=r"nbits_node.*B 'B' \[8, 2, 8\], expected \[8, 3, 8\]"):
        metalnn.load(model, device="cpu")


def test_unknown_domain_still_refused(rng):
    model, _ = nbits_model(rng, (1, 32), 8, 16)
    model.graph.node[0].domain = "com.example"
    with pytest.raises(metalnn.UnsupportedOpError, match="com.example.MatMulNBits"):
        metalnn.load(model, device="cpu")


def test_weights_stay_four_bit(tmp_path, rng):
    """The packed codes are not widened at load, and a saved .metalnn file holds them packed."""
    n, k = 512, 1024
    model, feeds = nbits_model(rng, (1, k), n, 32, "packed")
    engine = metalnn.load(model, device="cpu")
    path = tmp_path / "q4.metalnn"
    engine.save(str(path))
    size = path.stat().st_size
    codes, scales = n * k // 2, n * k // 32 * 4
    float_bytes = n * k * 4
    assert size < codes + scales + 64 * 1024, (size, codes + scales)  # ~0.625 byte a weight, not 4
    assert size < float_bytes / 5
    reloaded = metalnn.load(str(path), device="cpu")
    np.testing.assert_allclose(reloaded.run(feeds)["Y"], run_reference(model, feeds)["Y"], rtol=1e-4, atol=2e-5)


# --- whole decoders quantised by ONNX Runtime -------------------------------------------------------------

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))


def _gemm_to_matmul(model):
    """GPT-2's Conv1D exports as Gemm(x, W, b), which the quantizer skips: as MatMul + Add it is quantised."""
    nodes = []
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Gemm" and not attrs.get("transA") and not attrs.get("transB") \
                and attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0 and len(node.input) == 3:
            mid = node.output[0] + "_mm"
            nodes.append(helper.make_node("MatMul", node.input[:2], [mid], name=node.name + "_mm"))
            nodes.append(helper.make_node("Add", [mid, node.input[2]], list(node.output), name=node.name + "_bias"))
        else:
            nodes.append(node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def quantized_decoder(name, block_size=32):
    """The zoo's small `name` decoder (random weights) exported by torch and quantised to 4 bits
    (MatMul -> MatMulNBits, embeddings -> GatherBlockQuantized); returns (model, feeds)."""
    import torch
    import transformer_models as tm
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    built = getattr(tm, name)("eager", batch=1)
    args = tuple(torch.from_numpy(v) for v in built.inputs.values())
    buffer = io.BytesIO()
    torch.onnx.export(built.module, args, buffer, input_names=list(built.inputs), output_names=list(built.outputs),
                      opset_version=21, dynamo=False)
    model = _gemm_to_matmul(onnx.load_from_string(buffer.getvalue()))
    quantizer = MatMulNBitsQuantizer(model, block_size=block_size, is_symmetric=False,
                                     op_types_to_quantize=("MatMul", "Gather"))
    quantizer.process()
    return quantizer.model.model, dict(built.inputs)


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_quantized_decoder(name, target):
    model, feeds = quantized_decoder(name)
    ops = collections.Counter(n.op_type for n in model.graph.node if n.domain == MS)
    assert ops["MatMulNBits"] >= 8 and ops["GatherBlockQuantized"] >= 1, ops
    expected = run_reference(model, feeds)["logits"]
    actual = metalnn.load(model, device=target.device, precision=target.precision).run(feeds)["logits"]
    error = float(np.abs(actual - expected).max() / np.abs(expected).max())
    print(f"{name} {target}: max |metalnn - onnxruntime| / max |logits| = {error:.2e}")
    assert error < (2e-2 if target.precision == "float16" else 1e-4), error
