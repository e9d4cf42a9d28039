"""ImageNet backbones in plain torch, with torchvision's module layout.

The layout matters: it makes torchvision-format state dicts (``mobilenet_v2-b0353104.pth``,
``resnet18-f37072fd.pth``, ``resnet50-0676ba61.pth``, ``wide_resnet50_2-95faca4d.pth``) load
with ``strict=True`` without depending on torchvision, which would pull a multi-GB CUDA build of
torch. Each backbone exposes multi-scale feature maps for segmentation heads and anomaly models
through :meth:`Backbone.forward_features`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from torch import Tensor, nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ConvBNAct(nn.Sequential):
    """Conv -> BatchNorm -> activation, keyed 0/1/2 like torchvision's Conv2dNormActivation."""

    def __init__(
        self, inp: int, out: int, kernel: int = 3, stride: int = 1, groups: int = 1, act: bool = True
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(inp, out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out),
        ]
        if act:
            layers.append(nn.ReLU6(inplace=True))
        super().__init__(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, out: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = inp * expand_ratio
        self.use_residual = stride == 1 and inp == out
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNAct(inp, hidden, kernel=1))
        layers += [
            ConvBNAct(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out, 1, 1, 0, bias=False),
            nn.BatchNorm2d(out),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.conv(x)
        return x + out if self.use_residual else out


class Backbone(nn.Module):
    """Common surface: ``stage_channels`` and ``forward_features`` returning stride-4..32 maps."""

    arch: ClassVar[str]
    weights_file: ClassVar[str]
    stage_channels: ClassVar[tuple[int, int, int, int]]  # channels at strides 4, 8, 16, 32

    def forward_features(self, x: Tensor) -> list[Tensor]:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """Global-average-pooled last-stage features [N, C]."""
        pooled: Tensor = self.forward_features(x)[-1].mean(dim=(2, 3))
        return pooled


class MobileNetV2(Backbone):
    arch = "mobilenet_v2"
    weights_file = "mobilenet_v2-b0353104.pth"
    stage_channels = (24, 32, 96, 1280)
    # (expansion t, channels c, repeats n, first stride s), as in the MobileNetV2 paper.
    _SETTINGS: ClassVar[Sequence[tuple[int, int, int, int]]] = (
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    )
    # Index of the last block of each stride-4/8/16/32 stage inside ``features``.
    _STAGE_ENDS = (3, 6, 13, 18)

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvBNAct(3, 32, stride=2)]
        inp = 32
        for t, c, n, s in self._SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(inp, c, s if i == 0 else 1, t))
                inp = c
        layers.append(ConvBNAct(inp, 1280, kernel=1))
        self.features = nn.Sequential(*layers)

    def forward_features(self, x: Tensor) -> list[Tensor]:
        outs: list[Tensor] = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self._STAGE_ENDS:
                outs.append(x)
        return outs


class BasicBlock(nn.Module):
    def __init__(self, inp: int, out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.downsample: nn.Module | None = None
        if stride != 1 or inp != out:
            self.downsample = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        out: Tensor = self.relu(y + identity)
        return out


class Bottleneck(nn.Module):
    """torchvision's ResNet-50 block (stride on the 3x3 conv, "ResNet v1.5"); ``width`` = base width."""

    expansion = 4

    def __init__(self, inp: int, planes: int, stride: int, width_factor: int = 1) -> None:
        super().__init__()
        width = planes * width_factor
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inp, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or inp != out:
            self.downsample = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        out: Tensor = self.relu(y + identity)
        return out


class ResNet(Backbone):
    """torchvision's ResNet layout: conv1/bn1/relu/maxpool, then layer1..layer4 (strides 4..32)."""

    layer1: nn.Module
    layer2: nn.Module
    layer3: nn.Module
    layer4: nn.Module

    def _stem(self) -> None:
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)

    def forward_features(self, x: Tensor) -> list[Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outs: list[Tensor] = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            outs.append(x)
        return outs


class ResNet18(ResNet):
    arch = "resnet18"
    weights_file = "resnet18-f37072fd.pth"
    stage_channels = (64, 128, 256, 512)

    def __init__(self) -> None:
        super().__init__()
        self._stem()
        self.layer1 = nn.Sequential(BasicBlock(64, 64, 1), BasicBlock(64, 64, 1))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128, 1))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256, 1))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512, 1))


def _bottleneck_layer(inp: int, planes: int, blocks: int, stride: int, width_factor: int) -> nn.Sequential:
    layers = [Bottleneck(inp, planes, stride, width_factor)]
    layers += [Bottleneck(planes * 4, planes, 1, width_factor) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class ResNet50(ResNet):
    """ResNet-50; :class:`WideResNet50` doubles the inner width of every block (PatchCore's backbone)."""

    arch = "resnet50"
    weights_file = "resnet50-0676ba61.pth"
    stage_channels = (256, 512, 1024, 2048)
    width_factor = 1

    def __init__(self) -> None:
        super().__init__()
        self._stem()
        w = self.width_factor
        self.layer1 = _bottleneck_layer(64, 64, 3, 1, w)
        self.layer2 = _bottleneck_layer(256, 128, 4, 2, w)
        self.layer3 = _bottleneck_layer(512, 256, 6, 2, w)
        self.layer4 = _bottleneck_layer(1024, 512, 3, 2, w)


class WideResNet50(ResNet50):
    arch = "wide_resnet50_2"
    weights_file = "wide_resnet50_2-95faca4d.pth"
    width_factor = 2


BACKBONES: dict[str, type[Backbone]] = {
    cls.arch: cls for cls in (MobileNetV2, ResNet18, ResNet50, WideResNet50)
}


def load_torchvision_state_dict(model: Backbone, state_dict: dict[str, Tensor]) -> None:
    """Load a torchvision ImageNet checkpoint, dropping its classifier (we use our own heads)."""
    own = {k: v for k, v in state_dict.items() if not k.startswith(("classifier.", "fc."))}
    missing, unexpected = model.load_state_dict(own, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"checkpoint does not match {model.arch}: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )


def create_backbone(arch: str, pretrained: bool = True) -> Backbone:
    """Build a backbone; with ``pretrained`` load verified ImageNet weights or warn and use random init."""
    from dda.ml.weights import load_pretrained_state_dict

    if arch not in BACKBONES:
        from dda.core.errors import InvalidInput

        raise InvalidInput(f"unknown backbone {arch!r}", hint=f"choose one of {sorted(BACKBONES)}")
    model = BACKBONES[arch]()
    if pretrained:
        state = load_pretrained_state_dict(arch)
        if state is not None:
            load_torchvision_state_dict(model, state)
    return model
