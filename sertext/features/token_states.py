"""Token-level transformer states of the transcript, as Makiuchi et al.'s text CNN reads them.

The transcript is tokenised as it is, padded to ``max_tokens`` (the public code's 122), and the
last hidden state is kept at the positions ``positions`` chooses, zero-padded back to
``max_tokens`` rows.  The public code lower-cases the transcript first: an uncased model's
tokenizer lower-cases anyway, so that changes nothing there, but a cased model (Table 4's
"BERT_c", XLNet_c) would see uncased text; sertext leaves the case to the tokenizer.

* ``"tokens"`` (default): the paper's reading (§3.2, "N is the number of tokens in the utterance
  excluding special tokens"): the states of the real tokens without [CLS] and [SEP], from the first
  row on.  The paper zero-pads to the longest utterance of the dataset; sertext to ``max_tokens``
  rows, so the CNN's shape does not depend on the corpus.
* ``"with_special"``: the real tokens with [CLS] … [SEP], zero rows at the padding.
* ``"drop_first_last"``: the public code (``text/feature_extractor.py``, docs/models.md (b), a
  quirk): it stores the state at *every* position, padding included, then drops the first and last
  **positions**, which removes [CLS] and one trailing PAD position while [SEP] and the states at
  the other PAD positions stay.  The published text model was trained on it.

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

POSITIONS = ("tokens", "with_special", "drop_first_last")


@dataclass(frozen=True)
class TokenStatesExtractor:
    """Last-layer token states ``(max_tokens, hidden)`` float32 of the transcript (its case kept)."""

    model: str = DEFAULT_TEXT_MODEL
    max_tokens: int = 122
    positions: str = "tokens"  # one of POSITIONS (module docstring)
    batch_size: int = 16
    name: str = field(default="token-states", init=False)

    def __post_init__(self) -> None:
        if self.max_tokens < 3:
            raise ValueError(f"max_tokens must leave room for [CLS], a token and [SEP], got {self.max_tokens}")
        if self.positions not in POSITIONS:
            raise ValueError(f"positions must be one of {POSITIONS}, got {self.positions!r}")

    def settings(self) -> dict:
        return {"model": resolve_text_model(self.model)[1], "max_tokens": self.max_tokens,
                "positions": self.positions}

    def content(self, row) -> bytes:
        return str(row.text).encode("utf-8")

    @torch.no_grad()
    def compute(self, rows: list, contents: list[bytes]) -> list[np.ndarray]:
        tokenizer, model = _text_model(self.model)
        texts = [c.decode("utf-8").replace("\n", "") for c in contents]
        batch = tokenizer(texts, padding="max_length", truncation=True, max_length=self.max_tokens,
                          return_tensors="pt", return_special_tokens_mask=True)
        special = batch.pop("special_tokens_mask").bool()
        states = model(**batch).last_hidden_state.float()  # (B, max_tokens, hidden), PAD positions included
        out = torch.zeros_like(states)
        if self.positions == "drop_first_last":
            out[:, : self.max_tokens - 2] = states[:, 1:-1]  # the quirk: [CLS] and the last position go
            return list(out.numpy())
        keep = batch["attention_mask"].bool()
        if self.positions == "tokens":
            keep &= ~special  # the paper: no [CLS] or [SEP]
        for row, kept in enumerate(keep):
            out[row, : int(kept.sum())] = states[row, kept]  # in order, from the first row on
        return list(out.numpy())


@functools.cache
def _text_model(model: str):
    tokenizer, encoder = load_text_model(model)
    return tokenizer, encoder.eval()
