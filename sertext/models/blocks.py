"""Building blocks shared by the CNN14 family."""

from __future__ import annotations

import torch
from torch import nn


class ConvBlock(nn.Module):
    """PANNs conv block: two 3×3 convolutions (no bias) each with BatchNorm and ReLU, then 2×2
    average pooling (``pool=False`` for CNN14's sixth block)."""

    def __init__(self, in_channels: int, out_channels: int, *, pool: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        return nn.functional.avg_pool2d(x, 2) if self.pool else x


def init_xavier(module: nn.Module) -> None:
    """PANNs initialisation: Xavier-uniform convolutions and linears with zero bias, BN (1, 0)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)
