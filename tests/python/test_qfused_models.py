"""Whole models quantized by ONNX Runtime's quantizer, on metalnn against ONNX Runtime running the same
file: quantize_static (QDQ, per-channel weights, calibration data generated here, random weights) of
a small ResNet-like and a small MobileNetV2-like CNN, and quantize_dynamic of a small BERT-like
encoder. Differences are measured in quantization steps of the output."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import metalnn

torch = pytest.importorskip("torch")
quantization = pytest.importorskip("onnxruntime.quantization")

IMAGE = (2, 3, 24, 24)


class _Calibration(quantization.CalibrationDataReader):
    def __init__(self, name, shape, batches=8):
        rng = np.random.default_rng(7)
        self._feeds = iter([{name: rng.standard_normal(shape).astype(np.float32)} for _ in range(batches)])

    def get_next(self):
        return next(self._feeds, None)


def _resnet_like():
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
            self.down = nn.Conv2d(cin, cout, 1, stride) if stride != 1 or cin != cout else None

        def forward(self, x):
            y = self.conv2(torch.relu(self.conv1(x)))
            return torch.relu(y + (self.down(x) if self.down is not None else x))

    return nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1), nn.ReLU(), Block(16, 16, 1), Block(16, 32, 2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))


def _mobilenet_like():
    nn = torch.nn

    class Inverted(nn.Module):
        def __init__(self, cin, cout, stride, expand=4):
            super().__init__()
            hidden = cin * expand
            self.body = nn.Sequential(nn.Conv2d(cin, hidden, 1), nn.ReLU6(),
                                      nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden), nn.ReLU6(),
                                      nn.Conv2d(hidden, cout, 1))
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            y = self.body(x)
            return x + y if self.residual else y

    return nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU6(), Inverted(16, 16, 1), Inverted(16, 24, 2),
                         Inverted(24, 24, 1), nn.Conv2d(24, 64, 1), nn.ReLU6(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(64, 10))


def _export(module, example, path, names=("input",), outputs=("output",)):
    torch.manual_seed(0)
    with torch.no_grad():
        torch.onnx.export(module.eval(), example, str(path), input_names=list(names), output_names=list(outputs),
                          opset_version=17, dynamo=False)
    return path


def _output_scale(model_path, output):
    model = onnx.load(str(model_path))
    node = next(n for n in model.graph.node if output in n.output)
    assert node.op_type == "DequantizeLinear"
    init = {i.name: i for i in model.graph.initializer}
    return float(onnx.numpy_helper.to_array(init[node.input[1]]))


def _ort(path, feeds):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)


@pytest.mark.parametrize("activation", ["QInt8", "QUInt8"])
@pytest.mark.parametrize("build", [_resnet_like, _mobilenet_like], ids=["resnet_like", "mobilenet_v2_like"])
@pytest.mark.parametrize("device", [d for d in ("cpu", "metal-sim") if d in metalnn.devices()])
def test_quantize_static(build, activation, device, tmp_path):
    torch.manual_seed(0)
    float_path = _export(build(), torch.zeros(IMAGE), tmp_path / "float.onnx")
    path = tmp_path / "int8.onnx"
    quantization.quantize_static(str(float_path), str(path), _Calibration("input", IMAGE),
                                 quant_format=quantization.QuantFormat.QDQ, per_channel=True,
                                 activation_type=getattr(quantization.QuantType, activation),
                                 weight_type=quantization.QuantType.QInt8)
    x = np.random.default_rng(3).standard_normal(IMAGE).astype(np.float32)
    expected = _ort(path, {"input": x})[0]
    model = metalnn.load(str(path), device=device)
    actual = model.run({"input": x})["output"]
    ops = model.summary().op_counts
    assert ops.get("Conv", 0) == 0 and ops.get("QuantizedConv", 0) > 0, ops
    steps = np.abs(actual - expected).max() / _output_scale(path, "output")
    print(f"{build.__name__} {activation} {device}: worst {steps:.2f} output steps, ops {ops}")
    assert steps <= 1.0 + 1e-6


def test_quantize_dynamic_bert(tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=96, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                     intermediate_size=128, max_position_embeddings=64)
    bert = transformers.BertModel(config, add_pooling_layer=False).eval()

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, ids):
            return self.bert(input_ids=ids).last_hidden_state

    ids = np.random.default_rng(1).integers(1, 96, (2, 13)).astype(np.int64)
    float_path = _export(Encoder(), (torch.from_numpy(ids),), tmp_path / "bert.onnx", ("ids",))
    path = tmp_path / "bert_int8.onnx"
    quantization.quantize_dynamic(str(float_path), str(path), weight_type=quantization.QuantType.QInt8)
    expected = _ort(path, {"ids": ids})[0]
    model = metalnn.load(str(path), device="cpu")
    actual = model.run({"ids": ids})["output"]
    assert model.summary().op_counts.get("MatMulInteger", 0) > 0
    # Dynamic quantization re-quantizes every MatMul input: compare with the output's spread.
    rel = np.abs(actual - expected).max() / np.abs(expected).max()
    print(f"bert dynamic: worst |diff| / max|ref| = {rel:.2e}")
    assert rel < 1e-3
