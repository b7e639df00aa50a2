"""MFCNN14: CNN14 with multistage linguistic conditioning (Triantafyllopoulos et al.).

Six linear projections of the utterance's text embedding (``text_dim`` → C_k, the width of block
k) are added as a per-channel bias, broadcast over time and frequency, to the output of every
conv block.  The paper's code is not public; sertext adds the bias **after the block's 2×2
pooling and before its 0.2 dropout**, as the paper's Eq. 3-4 put it (Y = MaxPool(H₂) + PROJ(E_L);
the pooling is ``pooling``, max by default, see :mod:`.cnn14`).  With all projection weights and
biases zero it computes exactly CNN14.
"""

from __future__ import annotations

import torch
from torch import nn

from .cnn14 import CNN14


class MFCNN14(CNN14):
    """``forward(log_mel (B, T, 64), text (B, text_dim)) -> (B, n_outputs)``."""

    def __init__(self, n_outputs: int, *, text_dim: int, width: float = 1.0, dropout: float = 0.2,
                 pretrained: str | None = None, pooling: str = "max") -> None:
        super().__init__(n_outputs, width=width, dropout=dropout, pretrained=pretrained, pooling=pooling)
        self.text_projections = nn.ModuleList(nn.Linear(text_dim, c) for c in self.channels)
        for projection in self.text_projections:
            nn.init.xavier_uniform_(projection.weight)
            nn.init.zeros_(projection.bias)

    def condition_block(self, index: int, x: torch.Tensor, text: torch.Tensor | None) -> torch.Tensor:
        if text is None:
            raise ValueError("MFCNN14 needs a text embedding")
        bias = self.text_projections[index](text)  # (B, C_k)
        return x + bias[:, :, None, None]
