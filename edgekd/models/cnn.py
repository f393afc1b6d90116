"""ResNet-like CNN family for small images; width and depth scale it from teacher to tiny student."""

from __future__ import annotations

import torch
from torch import nn

from edgekd.errors import EdgekdError
from edgekd.models.registry import MODELS, check_int, check_ints


class BasicBlock(nn.Module):
    """Two 3x3 convs with batch norm and a projection shortcut when shape changes."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """Stem conv, one stage per width (stride 2 after the first), global pool, linear head.

    Input (N, in_channels, H, W) float32; output logits (N, num_classes).
    """

    def __init__(self, widths: list[int], blocks: list[int], in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        if len(widths) != len(blocks) or not widths:
            raise TypeError("widths and blocks must be non-empty lists of the same length")
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        layers, cin = [], widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks)):
            stage = [BasicBlock(cin if j == 0 else w, w, 2 if (i > 0 and j == 0) else 1) for j in range(n)]
            layers.append(nn.Sequential(*stage))
            cin = w
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


@MODELS.register("resnet")
def resnet(widths: list[int], blocks: list[int], in_channels: int = 1, num_classes: int = 10) -> ResNet:
    """``widths``: channels per stage (1..4096); ``blocks``: basic blocks per stage (1..64), one per width."""
    check_ints("resnet", "widths", widths, 1, 4096)
    check_ints("resnet", "blocks", blocks, 1, 64)
    if len(widths) != len(blocks) or len(widths) > 16:
        raise EdgekdError(f"arch 'resnet': give one block count per width (1 to 16 stages), got {len(widths)} widths "
                          f"and {len(blocks)} block counts")
    check_int("resnet", "in_channels", in_channels, 1, 1024)
    check_int("resnet", "num_classes", num_classes, 1, 1_000_000)
    return ResNet(widths, blocks, in_channels, num_classes)
