"""Model registry: ``build(name, n_outputs=…, width=…, text_dim=…)`` returns an ``nn.Module``.

Each architecture declares the inputs it reads (``log_mel``, ``text_embedding``, ``tokens``), so
the trainer knows which features to prepare.  Options an architecture has no use for (``width``
for the text model, ``text_dim`` for CNN14) are ignored, so one sweep can pass the same settings
to every architecture.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .cnn14 import CNN14
from .mfcnn14 import MFCNN14
from .sfcnn14 import SFCNN14
from .text import TextClassifier


@dataclass(frozen=True)
class Architecture:
    builder: type
    inputs: tuple
    options: tuple  # keyword arguments the builder accepts


ARCHITECTURES = {
    "cnn14": Architecture(CNN14, ("log_mel",), ("width", "dropout", "pretrained")),
    "sfcnn14": Architecture(SFCNN14, ("log_mel", "text_embedding"), ("width", "dropout", "pretrained", "text_dim")),
    "mfcnn14": Architecture(MFCNN14, ("log_mel", "text_embedding"), ("width", "dropout", "pretrained", "text_dim")),
    "text": Architecture(TextClassifier, ("tokens",), ("text_model", "max_tokens")),
}


def build(name: str, *, n_outputs: int, **options) -> nn.Module:
    """Build architecture ``name`` with ``n_outputs`` outputs.

    Raises:
        ValueError: for an unknown architecture, or a needed option that is missing.
    """
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; expected one of {sorted(ARCHITECTURES)}")
    architecture = ARCHITECTURES[name]
    used = {k: v for k, v in options.items() if k in architecture.options and v is not None}
    if "text_dim" in architecture.options and "text_dim" not in used:
        raise ValueError(f"{name} needs text_dim (the size of the text embedding)")
    return architecture.builder(n_outputs, **used)
