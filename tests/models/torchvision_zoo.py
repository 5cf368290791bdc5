"""torchvision classifiers, segmenters and detectors (random weights, small inputs) for the zoo."""

from __future__ import annotations

from typing import Any

import numpy as np

from transformer_models import Built, _Wrap

CLASSIFIERS = ("resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0",
               "shufflenet_v2_x0_5", "squeezenet1_1", "densenet121", "mnasnet0_5", "regnet_y_400mf",
               "googlenet", "convnext_tiny", "resnext50_32x4d", "swin_t", "alexnet", "vgg11")
SEGMENTERS = ("fcn_resnet50", "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large")
DETECTORS = ("ssdlite320_mobilenet_v3_large", "fasterrcnn_mobilenet_v3_large_320_fpn", "retinanet_resnet50_fpn")

# AlexNet and VGG end in adaptive pools the TorchScript exporter only takes at multiples of 6x6 / 7x7.
_SIZES = {"alexnet": 224, "vgg11": 224, "ssdlite320_mobilenet_v3_large": 320,
          "fasterrcnn_mobilenet_v3_large_320_fpn": 320, "retinanet_resnet50_fpn": 128}


def image_size(name: str) -> int:
    return _SIZES.get(name, 64)


def _images(batch: int, size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((batch, 3, size, size), dtype=np.float32)


def classifier(name: str, batch: int = 2) -> Built:
    from metalnn.torchvision_models import reestimate_batch_norm
    import torch
    import torchvision

    torch.manual_seed(0)
    size = image_size(name)
    kwargs = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
    model = torchvision.models.get_model(name, weights=None, **kwargs)
    reestimate_batch_norm(model, size)
    return Built(model.eval(), {"input": _images(batch, size, 1)}, ("logits",))


def segmenter(name: str, batch: int = 2, size: int | None = None, num_classes: int = 5) -> Built:
    from metalnn.torchvision_models import reestimate_batch_norm
    import torch
    import torchvision

    torch.manual_seed(0)
    size = size or image_size(name)
    model = torchvision.models.get_model(name, weights=None, weights_backbone=None, num_classes=num_classes)
    reestimate_batch_norm(model, size)
    model.eval()

    class Out(torch.nn.Module):  # segmenters return a dict
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model(x)["out"]

    return Built(Out().eval(), {"input": _images(batch, size, 2)}, ("out",))


def _spread_scores(model, image) -> None:
    """As initialised, random weights score every box alike (zero-mean heads over features that barely
    vary), so ties would decide which boxes are kept. With re-estimated BatchNorm statistics and heads
    of random weights and biases (seeded), scaled on `image` so each layer's output before its bias
    has unit deviation, the scores are distinct and some pass the thresholds."""
    from metalnn.torchvision_models import reestimate_batch_norm
    import torch

    size = image.shape[-1]
    reestimate_batch_norm(model.backbone, size)
    heads = [model.head] if hasattr(model, "head") else [model.rpn.head, model.roi_heads.box_predictor]
    layers = [m for h in heads for m in h.modules()
              if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and m.bias is not None]
    generator = torch.Generator().manual_seed(1)
    scaled = set()

    def scale(layer, inputs, output):  # the first call (the first feature level) sets the scale
        if layer in scaled:
            return None
        scaled.add(layer)
        bias = layer.bias.view(1, -1, *[1] * (output.dim() - 2))
        factor = 1.0 / float((output - bias).std())
        layer.weight.mul_(factor)
        return (output - bias) * factor + bias

    with torch.no_grad():
        for layer in layers:
            layer.weight.normal_(0.0, 1.0, generator=generator)
            layer.bias.uniform_(-1.0, 1.0, generator=generator)
        hooks = [layer.register_forward_hook(scale) for layer in layers]
        model.eval()([torch.from_numpy(image)])
        for hook in hooks:
            hook.remove()


def detector(name: str, batch: int = 1) -> Built:
    import torch
    import torchvision

    torch.manual_seed(0)
    size = image_size(name)
    # SSD models fix their own input size (passing min_size again is an error); the R-CNN family takes it.
    sizes = {} if name.startswith("ssd") else {"min_size": size, "max_size": size}
    model = torchvision.models.get_model(name, weights=None, weights_backbone=None, num_classes=5,
                                         score_thresh=0.0, **sizes)
    wrapped = _Wrap.make(model.eval(), ("images",),
                         lambda o: (o[0]["boxes"], o[0]["scores"], o[0]["labels"]))
    images = np.random.default_rng(3).uniform(0, 1, (3, size, size)).astype(np.float32)
    _spread_scores(model, images)

    class Single(torch.nn.Module):  # detectors take a list of images
        def __init__(self):
            super().__init__()
            self.inner = wrapped

        def forward(self, image):
            return self.inner([image])

    return Built(Single().eval(), {"image": images}, ("boxes", "scores", "labels"))
