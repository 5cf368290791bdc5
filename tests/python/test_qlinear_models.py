"""Whole quantized models against ONNX Runtime running the same file: a ResNet-18 and a MobileNetV2
(torchvision, random weights, 64x64) quantized by ONNX Runtime's `quantize_static` in QOperator and
QDQ formats with per-channel weights and random calibration data, and a small BERT encoder quantized
by `quantize_dynamic`.

Each op alone stays within one step of its output's scale (test_qlinear.py); across a whole network
those rare steps grow, so the final output's allowance is larger (STEP_ALLOWANCE)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import metalnn
from op_check import DEVICES, run_reference

ort_quantization = pytest.importorskip("onnxruntime.quantization")
torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

SIZE = 64


class _RandomImages(ort_quantization.CalibrationDataReader):
    def __init__(self, name: str, count: int = 4):
        rng = np.random.default_rng(1)
        self.batches = iter([{name: rng.standard_normal((1, 3, SIZE, SIZE), dtype=np.float32)}
                             for _ in range(count)])

    def get_next(self):
        return next(self.batches, None)


def _calibrated(module):
    """The module in eval mode with BatchNorm statistics of random images: freshly initialised statistics
    (mean 0, variance 1) let MobileNetV2's activations shrink to ~1e-10, where most quantized values are 0."""
    for layer in module.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.momentum = None  # a plain average over the batches seen
    module.train()
    with torch.no_grad():
        module(torch.randn(8, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(3)))
    return module.eval()


@pytest.fixture(scope="module")
def cnn_files(tmp_path_factory) -> dict[str, Path]:
    """(architecture, format, activation type) -> quantized file, exported once per module."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    directory = tmp_path_factory.mktemp("quantized")
    files = {}
    for arch in ("resnet18", "mobilenet_v2"):
        torch.manual_seed(0)
        module = _calibrated(getattr(torchvision.models, arch)(weights=None, num_classes=10))
        exported, prepared = directory / f"{arch}.onnx", directory / f"{arch}.pre.onnx"
        torch.onnx.export(module, torch.randn(2, 3, SIZE, SIZE), str(exported), input_names=["x"],
                          output_names=["y"], opset_version=13, dynamo=False, dynamic_axes={"x": {0: "n"}})
        quant_pre_process(str(exported), str(prepared), skip_symbolic_shape=True)
        for fmt in ("QOperator", "QDQ"):
            for activation in ("QInt8", "QUInt8"):
                path = directory / f"{arch}.{fmt}.{activation}.onnx"
                quantize_static(str(prepared), str(path), _RandomImages("x"), quant_format=QuantFormat[fmt],
                                per_channel=True, activation_type=QuantType[activation],
                                weight_type=QuantType.QInt8)
                files[arch, fmt, activation] = path
    return files


def _output_scale(model: onnx.ModelProto) -> float:
    """The scale of the DequantizeLinear that produces the graph's output."""
    produced = {out: node for node in model.graph.node for out in node.output}
    node = produced[model.graph.output[0].name]
    assert node.op_type == "DequantizeLinear", node.op_type
    scale = next(i for i in model.graph.initializer if i.name == node.input[1])
    return float(onnx.numpy_helper.to_array(scale))


# Allowed difference in steps of the output's scale. Each layer's float path rounds differently from
# ONNX Runtime's int32 one in about 1 element in 10^5, by one step; these random-weight networks
# amplify such a step layer after layer (MobileNetV2: one flipped element in layer 3 of 17 grows to
# tens of steps at layer 18), so the allowances are the measured worst cases with some room.
STEP_ALLOWANCE = {"resnet18": 5, "mobilenet_v2": 16}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("activation", ["QInt8", "QUInt8"])
@pytest.mark.parametrize("fmt", ["QOperator", "QDQ"])
@pytest.mark.parametrize("arch", ["resnet18", "mobilenet_v2"])
def test_quantized_cnn(arch, fmt, activation, device, cnn_files):
    path = cnn_files[arch, fmt, activation]
    model = onnx.load(str(path))
    if fmt == "QOperator":
        assert any(node.op_type == "QLinearConv" for node in model.graph.node)
    x = np.random.default_rng(2).standard_normal((2, 3, SIZE, SIZE), dtype=np.float32)
    expected = run_reference(model, {"x": x})["y"]
    actual = metalnn.load(str(path), device=device).run({"x": x})["y"]
    steps = np.abs(actual - expected) / _output_scale(model)
    print(f"{arch} {fmt} {activation} {device}: worst {steps.max():.2f} steps, "
          f"{np.mean(steps > 0.5):.2%} of outputs differ")
    assert steps.max() <= STEP_ALLOWANCE[arch] + 0.01, f"{steps.max():.2f} steps"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("fmt", ["QOperator", "QDQ"])
@pytest.mark.parametrize("arch", ["resnet18", "mobilenet_v2"])
def test_quantized_cnn_as_onnx_runtime_integer_kernels(arch, fmt, device, cnn_files):
    """uint8 activations: ONNX Runtime's optimised CPU run takes the integer kernels (QDQ fused into
    QLinear ops); metalnn's requantisation is theirs (the int32 bias added to the sums, one rounding),
    so the outputs are the same bytes, the final dequantisation's float rounding aside."""
    import onnxruntime as ort

    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    if "avx512_vnni" not in flags and "avx_vnni" not in flags:
        pytest.skip("ONNX Runtime's u8 x s8 kernels without VNNI saturate int16 pair sums (vpmaddubsw)")
    path = cnn_files[arch, fmt, "QUInt8"]
    x = np.random.default_rng(2).standard_normal((2, 3, SIZE, SIZE), dtype=np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = session.run(["y"], {"x": x})[0]
    actual = metalnn.load(str(path), device=device).run({"x": x})["y"]
    steps = np.abs(actual - expected) / _output_scale(onnx.load(str(path)))
    assert steps.max() < 1e-3, f"{steps.max():.2f} steps, {np.mean(steps > 0.5):.2%} of outputs differ"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("weight_type", ["QInt8", "QUInt8"])
def test_dynamic_quantized_bert(weight_type, device, tmp_path):
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=96, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=37, max_position_embeddings=64)

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = BertModel(config)

        def forward(self, ids, mask):
            out = self.bert(input_ids=ids, attention_mask=mask)
            return out.last_hidden_state, out.pooler_output

    ids = torch.randint(1, 96, (2, 11))
    mask = torch.ones(2, 11, dtype=torch.int64)
    mask[1, 8:] = 0
    exported, quantized = tmp_path / "bert.onnx", tmp_path / "bert.quantized.onnx"
    with torch.no_grad():
        torch.onnx.export(Encoder().eval(), (ids, mask), str(exported), input_names=["ids", "mask"],
                          output_names=["hidden", "pooled"], opset_version=14, dynamo=False)
    quantize_dynamic(str(exported), str(quantized), weight_type=QuantType[weight_type], per_channel=True)
    model = onnx.load(str(quantized))
    assert any(node.op_type == "MatMulInteger" for node in model.graph.node)
    feeds = {"ids": ids.numpy(), "mask": mask.numpy()}
    expected = run_reference(model, feeds)
    actual = metalnn.load(str(quantized), device=device).run(feeds)
    for name in ("hidden", "pooled"):
        error = np.abs(actual[name] - expected[name]).max() / np.abs(expected[name]).max()
        print(f"bert {weight_type} {device} {name}: worst relative error {error:.2e}")
        assert error < 1e-3, f"{name}: {error:.2e}"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("arch,activation", [("resnet18", "QUInt8"), ("mobilenet_v2", "QInt8")])
def test_quantized_cnn_layer_by_layer(arch, activation, device, cnn_files):
    """Every node of the QOperator model, given ONNX Runtime's own inputs, within one step of its output."""
    model = onnx.load(str(cnn_files[arch, "QOperator", activation]))
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    values = [out for node in graph.node for out in node.output if out not in {o.name for o in graph.output}]
    graph.output.extend(onnx.ValueInfoProto(name=name) for name in values)
    x = np.random.default_rng(2).standard_normal((2, 3, SIZE, SIZE), dtype=np.float32)
    names = [out.name for out in graph.output]
    seen = dict(zip(names, run_reference(model, {"x": x}).values()), x=x)
    worst = 0.0
    for node in graph.node:
        feeds = {name: seen[name] for name in node.input if name and name not in initializers}
        alone = onnx.helper.make_graph(
            [node], "layer",
            [onnx.helper.make_tensor_value_info(k, onnx.helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
             for k, v in feeds.items()],
            [onnx.helper.make_tensor_value_info(out, onnx.helper.np_dtype_to_tensor_dtype(seen[out].dtype), None)
             for out in node.output],
            initializer=[initializers[name] for name in node.input if name in initializers])
        layer = onnx.helper.make_model(alone, opset_imports=model.opset_import)
        actual = metalnn.load(layer, device=device).run(feeds)[node.output[0]]
        expected = seen[node.output[0]]
        diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
        if node.op_type == "DequantizeLinear":
            diff /= float(onnx.numpy_helper.to_array(initializers[node.input[1]]))
        worst = max(worst, float(diff.max()))
        assert diff.max() <= 1.0 + 1e-3, f"{node.op_type} '{node.name}': {diff.max()} steps"
        assert np.mean(diff > 0.5) < 0.01, f"{node.op_type} '{node.name}': {np.mean(diff > 0.5):.2%} differ"
    print(f"{arch} {activation} {device}: worst {worst:g} steps over {len(graph.node)} layers")
