"""Token-level transformer states of the transcript, as Makiuchi et al.'s text CNN reads them.

The public code (``text/feature_extractor.py``) lower-cases the transcript, tokenises it padded to
``max_length`` 122 with the attention mask, and stores the last hidden state at *every* position,
padding included.  It then drops the first and last **positions** (docs/models.md (b), a quirk):
that removes [CLS] and one trailing PAD position, while [SEP] and the states at the other PAD
positions stay; the matrix is zero-padded back to 122 rows.  ``drop_first_last=True`` (default)
reproduces this because the published text model was trained on it.  ``drop_first_last=False``
gives the plain reading of the paper instead: the states of the real tokens ([CLS] … [SEP]) with
zero rows at the padding.

Differences from the public code: transcripts longer than ``max_tokens`` tokens are truncated
(none are in IEMOCAP at 122), and token-only transcripts such as ``[LAUGHTER]`` get states too
(the public code skips them and fuses speech alone; that choice belongs to the fusion step).
Loading and model identity come from :mod:`sertext.features.text`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch

from .text import DEFAULT_TEXT_MODEL, load_text_model, resolve_text_model


@dataclass(frozen=True)
class TokenStatesExtractor:
    """Last-layer token states ``(max_tokens, hidden)`` float32 of the lower-cased transcript."""

    model: str = DEFAULT_TEXT_MODEL
    max_tokens: int = 122
    drop_first_last: bool = True
    batch_size: int = 16
    name: str = field(default="token-states", init=False)

    def __post_init__(self) -> None:
        if self.max_tokens < 3:
            raise ValueError(f"max_tokens must leave room for [CLS], a token and [SEP], got {self.max_tokens}")

    def settings(self) -> dict:
        return {"model": resolve_text_model(self.model)[1], "max_tokens": self.max_tokens,
                "drop_first_last": self.drop_first_last, "lowercase": True}

    def content(self, row) -> bytes:
        return str(row.text).encode("utf-8")

    @torch.no_grad()
    def compute(self, rows: list, contents: list[bytes]) -> list[np.ndarray]:
        tokenizer, model = _text_model(self.model)
        texts = [c.decode("utf-8").lower().replace("\n", "") for c in contents]
        batch = tokenizer(texts, padding="max_length", truncation=True, max_length=self.max_tokens,
                          return_tensors="pt")
        states = model(**batch).last_hidden_state.float()  # (B, max_tokens, hidden), PAD positions included
        if self.drop_first_last:
            out = torch.zeros_like(states)
            out[:, : self.max_tokens - 2] = states[:, 1:-1]  # the quirk: [CLS] and the last position go
        else:
            out = states * batch["attention_mask"].unsqueeze(-1)
        return list(out.numpy())


@functools.cache
def _text_model(model: str):
    tokenizer, encoder = load_text_model(model)
    return tokenizer, encoder.eval()
