"""Building blocks shared by the CNN14 family."""

from __future__ import annotations

import torch
from torch import nn

POOLINGS = ("max", "avg")


class ConvBlock(nn.Module):
    """PANNs conv block: two 3×3 convolutions (no bias) each with BatchNorm and ReLU, then 2×2
    pooling (``pool=False`` for CNN14's sixth block).

    ``pooling="max"`` follows the multistage-conditioning paper (Triantafyllopoulos et al., §3:
    "each block followed by max pooling", and its Eq. 3, H₃ = MaxPool(H₂)); ``"avg"`` is PANNs'
    code (every CNN14 calls its blocks with ``pool_type='avg'``), with which its checkpoints were trained.
    """

    def __init__(self, in_channels: int, out_channels: int, *, pool: bool = True, pooling: str = "max") -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.pool = pool
        self.pooling = pooling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        if not self.pool:
            return x
        return nn.functional.max_pool2d(x, 2) if self.pooling == "max" else nn.functional.avg_pool2d(x, 2)


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
