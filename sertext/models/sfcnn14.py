"""SFCNN14: CNN14 with single-stage linguistic conditioning (Triantafyllopoulos et al.).

A linear projection of the utterance's text embedding (``text_dim`` → 2048·width) is added to
the pooled audio embedding, right after the max + mean pooling and before fc1.
"""

from __future__ import annotations

import torch
from torch import nn

from .cnn14 import CNN14


class SFCNN14(CNN14):
    """``forward(log_mel (B, T, 64), text (B, text_dim)) -> (B, n_outputs)``."""

    def __init__(self, n_outputs: int, *, text_dim: int, width: float = 1.0, dropout: float = 0.2,
                 pretrained: str | None = None, pooling: str = "max") -> None:
        super().__init__(n_outputs, width=width, dropout=dropout, pretrained=pretrained, pooling=pooling)
        self.text_projection = nn.Linear(text_dim, self.channels[-1])
        nn.init.xavier_uniform_(self.text_projection.weight)
        nn.init.zeros_(self.text_projection.bias)

    def condition_pooled(self, x: torch.Tensor, text: torch.Tensor | None) -> torch.Tensor:
        if text is None:
            raise ValueError("SFCNN14 needs a text embedding")
        return x + self.text_projection(text)
