"""CNN14 (PANNs, Kong et al. 2020) on log-Mel input: the audio baseline of the
multistage-conditioning paper.

Layout (docs/models.md §0): per-mel-bin BatchNorm on the input; six conv blocks of two 3×3
convolutions (no bias) + BN + ReLU with 64, 128, 256, 512, 1024, 2048 channels (× ``width``),
2×2 pooling after blocks 1–5, dropout 0.2 after every block; mean over frequency, then
max + mean over time (summed); fc 2048 + ReLU; output layer.  Xavier initialisation.  At
``width=1.0`` with 4 outputs: 79,681,988 parameters.

Pooling (``pooling``): the multistage-conditioning paper describes CNN14 with **max** pooling
after each block (§3, "each block followed by max pooling … with a stride of 2×2", and Eq. 3),
so ``"max"`` is the default; PANNs' code, which the paper cites for CNN14 and whose checkpoints
sertext can load, average-pools (``"avg"``).  The paper's authors published no code, so the
paper's text decides; with a ``pretrained`` PANNs checkpoint ``pooling="avg"`` keeps the
activations the checkpoint was trained on.

Following the author's own CNN14 code rather than PANNs' AudioSet recipe, there is no
SpecAugment, no mixup and no 0.5 dropout around fc1.  ``pretrained`` loads a PANNs
``Cnn14_16k`` checkpoint (its trunk, bn0 and fc1; the output layer stays new).
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import ConvBlock, init_xavier

CHANNELS = (64, 128, 256, 512, 1024, 2048)
N_MELS = 64
MIN_FRAMES = 2 ** 5  # five 2 × 2 poolings: a shorter input pools to nothing


def scaled_channels(width: float) -> list[int]:
    """Block widths for a channel multiplier (at least one channel each)."""
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    return [max(1, round(c * width)) for c in CHANNELS]


class CNN14(nn.Module):
    """``forward(log_mel (B, T, 64), text=None) -> (B, n_outputs)``.

    Subclasses add text conditioning through :meth:`condition_block` (after each block) and
    :meth:`condition_pooled` (after pooling); here both return their input unchanged.
    """

    def __init__(self, n_outputs: int, *, width: float = 1.0, dropout: float = 0.2,
                 pretrained: str | None = None, pooling: str = "max") -> None:
        super().__init__()
        channels = scaled_channels(width)
        self.channels = channels
        self.dropout = dropout
        self.bn0 = nn.BatchNorm2d(N_MELS)
        blocks, previous = [], 1
        for index, out in enumerate(channels):
            blocks.append(ConvBlock(previous, out, pool=index < len(channels) - 1, pooling=pooling))
            previous = out
        self.blocks = nn.ModuleList(blocks)
        self.fc1 = nn.Linear(channels[-1], channels[-1])
        self.out = nn.Linear(channels[-1], n_outputs)
        init_xavier(self)
        if pretrained:
            load_panns_checkpoint(self, pretrained)

    def condition_block(self, index: int, x: torch.Tensor, text: torch.Tensor | None) -> torch.Tensor:
        return x

    def condition_pooled(self, x: torch.Tensor, text: torch.Tensor | None) -> torch.Tensor:
        return x

    def forward(self, log_mel: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        x = log_mel.unsqueeze(1)  # (B, 1, T, F)
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)  # normalise each mel bin
        for index, block in enumerate(self.blocks):
            x = block(x)  # (B, C_k, T/2^k, F/2^k); block 6 keeps the size
            x = self.condition_block(index, x, text)
            x = nn.functional.dropout(x, p=self.dropout, training=self.training)
        x = x.mean(dim=3)  # (B, C, T')
        x = x.max(dim=2).values + x.mean(dim=2)  # (B, C)
        x = self.condition_pooled(x, text)
        x = torch.relu(self.fc1(x))
        return self.out(x)


def load_panns_checkpoint(model: CNN14, path: str) -> None:
    """Initialise bn0, the conv trunk and fc1 from a PANNs ``Cnn14_16k`` checkpoint file.

    Raises:
        ValueError: if the checkpoint does not fit (e.g. a model with ``width != 1``).
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("model", state)
    mapped = {}
    for key, value in state.items():
        if key.startswith("conv_block"):
            number, rest = key[len("conv_block"):].split(".", 1)
            mapped[f"blocks.{int(number) - 1}.{rest}"] = value
        elif key.startswith(("bn0.", "fc1.")):
            mapped[key] = value
    own = model.state_dict()
    wrong = [k for k, v in mapped.items() if k not in own or own[k].shape != v.shape]
    if wrong or not mapped:
        raise ValueError(f"{path} does not fit this CNN14 (width {model.channels[0] / 64:g}): "
                         f"mismatched {wrong[:5] or 'everything'}")
    model.load_state_dict(mapped, strict=False)
