"""MobileNetV2-style family: inverted-residual blocks with depthwise convolutions, the blocks edge students use.

Written here rather than taken from timm's block-string builder: timm 1.0 imports torchvision at import time, and
the torchvision wheels these machines can reach either pull a CUDA torch (2.14) or fail to load against the CPU
build (``torchvision::nms does not exist``); this family needs one block type (about 60 lines), and its module
names stay stable for feature taps and teacher initialisation.
"""

from __future__ import annotations

import torch
from torch import nn

from edgekd.models.registry import MODELS


def _conv_bn(cin: int, cout: int, k: int, stride: int, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """1x1 expansion (skipped when ``expansion`` is 1), k x k depthwise conv with ``stride``, linear 1x1 projection;
    a residual connection when the shape is kept. Input (N, cin, H, W) -> (N, cout, H / stride, W / stride)."""

    def __init__(self, cin: int, cout: int, kernel: int, expansion: int, stride: int) -> None:
        super().__init__()
        hidden = cin * expansion
        layers: list[nn.Module] = [] if expansion == 1 else [_conv_bn(cin, hidden, 1, 1)]
        layers += [_conv_bn(hidden, hidden, kernel, stride, groups=hidden), _conv_bn(hidden, cout, 1, 1, act=False)]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.residual else out


class MobileNet(nn.Module):
    """Stem conv (stride ``stem_stride``), stages of inverted-residual blocks (the first block of a stage takes its
    stride), optional 1x1 head conv, global pool, linear classifier. Input (N, in_channels, H, W) float32 ->
    logits (N, num_classes)."""

    def __init__(self, widths: list[int], depths: list[int], kernels: list[int], expansions: list[int], strides: list[int],
                 stem: int = 16, stem_stride: int = 1, head: int = 0, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        lists = (widths, depths, kernels, expansions, strides)
        if not widths or len({len(v) for v in lists}) != 1:
            raise TypeError("widths, depths, kernels, expansions and strides must be non-empty lists of one length")
        if any(k % 2 == 0 for k in kernels) or min(*depths, *expansions, *strides, stem, stem_stride) < 1:
            raise TypeError("kernels must be odd; depths, expansions, strides, stem and stem_stride must be >= 1")
        self.stem = _conv_bn(in_channels, stem, 3, stem_stride)
        blocks, cin = [], stem
        for w, n, k, e, s in zip(*lists):
            blocks.append(nn.Sequential(*(InvertedResidual(cin if j == 0 else w, w, k, e, s if j == 0 else 1) for j in range(n))))
            cin = w
        self.layers = nn.Sequential(*blocks)
        self.head = _conv_bn(cin, head, 1, 1) if head else nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(head or cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.head(self.layers(self.stem(x)))), 1))


@MODELS.register("mobilenet")
def mobilenet(widths: list[int], depths: list[int], kernels: list[int], expansions: list[int], strides: list[int],
              stem: int = 16, stem_stride: int = 1, head: int = 0, in_channels: int = 1, num_classes: int = 10) -> MobileNet:
    """Inverted-residual CNN; one entry per stage in each list (width, blocks, kernel 3/5/7, expansion, stride)."""
    return MobileNet(widths, depths, kernels, expansions, strides, stem, stem_stride, head, in_channels, num_classes)
