"""The text baseline: a transformer fine-tuned with a linear head (the paper's BERT baseline).

The head reads the mean of the last layer's token states over the real tokens (the same pooling
as the frozen text embeddings), through dropout 0.1.  The paper used ``bert-base-uncased`` with
Hugging Face's classification head (the pooled [CLS] state); sertext's default encoder is the
offline all-MiniLM-L6-v2, whose sentence embedding is a mean, so mean pooling is used for both.
Training (in :mod:`sertext.trial`): AdamW lr 2e-5, linear schedule with warm-up, max 128 tokens.
"""

from __future__ import annotations

import torch
from torch import nn

from sertext.features.text import DEFAULT_TEXT_MODEL, load_text_model


class TextClassifier(nn.Module):
    """``forward(input_ids (B, L), attention_mask (B, L)) -> (B, n_outputs)``."""

    def __init__(self, n_outputs: int, *, text_model: str = DEFAULT_TEXT_MODEL, dropout: float = 0.1,
                 max_tokens: int = 128) -> None:
        super().__init__()
        self.tokenizer, self.encoder = load_text_model(text_model)
        self.max_tokens = max_tokens
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.config.hidden_size, n_outputs)

    def tokenize(self, texts: list[str]) -> dict:
        """Padded ``input_ids`` and ``attention_mask`` tensors for a batch of texts."""
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_tokens,
                               return_tensors="pt")
        return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        weights = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)  # (B, dim)
        return self.head(self.dropout(pooled))
