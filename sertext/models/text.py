"""The text baseline: a transformer fine-tuned with a linear head (the paper's BERT baseline).

The head reads the mean of the last layer's token states over the real tokens (the same pooling
as the frozen text embeddings), through dropout 0.1.  The paper used ``bert-base-uncased`` with
Hugging Face's classification head (the pooled [CLS] state); sertext's default encoder is the
offline all-MiniLM-L6-v2, whose sentence embedding is a mean, so mean pooling is used for both.

Training (:mod:`sertext.models.registry`, run by :mod:`sertext.trial`), as the paper's §4.2 has it:
"the Adam optimiser with fixed weight decay (learning rate: 2e−5, betas: 0.9 and 0.999, epsilon:
1e−06, weight decay: 0.0, no bias correction), and a linear schedule with 1000 total and 100 warmup
steps", batch 32, 4 epochs, max 128 tokens.  That is Hugging Face's ``AdamW(correct_bias=False)``
(the original BERT Adam's update), here :class:`BertAdamW` (``train.optimizer="bertadam"``, the
default), with Hugging Face's linear schedule over ``train.schedule_steps`` (1000) with
``train.warmup_steps`` (100): the learning rate rises from 0 at the first step and reaches 0 at step
1000, so a longer run stops learning there, as the paper's would.  ``train.optimizer="adamw"`` is
sertext's earlier choice: torch's AdamW (bias-corrected, eps 1e-6) with the linear warm-up and decay
stretched over the trial's own steps (``train.warmup_fraction`` of them warming up).
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


class BertAdamW(torch.optim.Optimizer):
    """Adam with decoupled ("fixed") weight decay and **no bias correction**: the original BERT
    Adam's update, as Hugging Face's ``transformers.AdamW(correct_bias=False)`` computes it (torch's
    Adam and AdamW always correct the bias).

    For each parameter p with gradient g, at every step:

    * m ← β₁·m + (1 − β₁)·g and v ← β₂·v + (1 − β₂)·g², both starting at 0;
    * p ← p − lr · m / (√v + eps);
    * then p ← p − lr · weight_decay · p (decoupled decay, after the update as Hugging Face does).

    Without the correction the first step moves a weight by lr·(1 − β₁)/√(1 − β₂) ≈ 3.16·lr
    (torch's Adam: lr), and the factor fades towards 1 as the moments fill.

    Examples:
        >>> weight = nn.Parameter(torch.tensor([1.0]))
        >>> optimizer = BertAdamW([weight], lr=0.1, eps=0.0)
        >>> weight.grad = torch.tensor([2.0])
        >>> optimizer.step()
        >>> round(weight.item(), 6)  # 1 − 0.1 · (0.1 · 2) / √(0.001 · 4)
        0.683772
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.0) -> None:
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ValueError(f"lr, eps and weight_decay must be non-negative, got {lr}, {eps}, {weight_decay}")
        if not all(0 <= b < 1 for b in betas):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.mul_(beta1).add_(p.grad, alpha=1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                p.addcdiv_(exp_avg, exp_avg_sq.sqrt().add_(group["eps"]), value=-group["lr"])
                if group["weight_decay"] > 0:
                    p.add_(p, alpha=-group["lr"] * group["weight_decay"])
        return loss
