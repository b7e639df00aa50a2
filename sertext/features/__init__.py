"""Features for every utterance of a table, computed once and kept in the shared cache.

An extractor has a ``name``, its ``settings`` (part of the cache key), the ``content`` of an
utterance it depends on (wav bytes or text) and a batched ``compute``.  :func:`extract` looks
every utterance up in the :class:`FeatureCache`, computes only what is missing (with a progress
bar) and returns ``{utt_id: array}``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from sertext.data.audio import decode_wav

from .cache import FEATURE_VERSION, FeatureCache, FeatureCacheError, content_digest, entry_key
from .log_mel import LogMel, LogMelConfig, log_mel
from .text import DEFAULT_TEXT_MODEL, TextEncoder, resolve_text_model

__all__ = [
    "DEFAULT_TEXT_MODEL", "FEATURE_VERSION", "FeatureCache", "FeatureCacheError", "LogMelConfig",
    "LogMelExtractor", "TextEmbeddingExtractor", "extract", "log_mel",
]


@dataclass(frozen=True)
class LogMelExtractor:
    """Log-Mel spectrogram ``(frames, n_mels)`` of the utterance's wav."""

    config: LogMelConfig = LogMelConfig()
    name: str = "log-mel"
    batch_size: int = 16

    def settings(self) -> dict:
        return self.config.settings()

    def content(self, row) -> bytes:
        return Path(row.path).read_bytes()

    @torch.no_grad()
    def compute(self, rows: list, contents: list[bytes]) -> list[np.ndarray]:
        transform = _log_mel_module(self.config)
        out = []
        for row, data in zip(rows, contents, strict=True):
            audio = decode_wav(data, row.path, sample_rate_hz=self.config.sample_rate_hz)
            out.append(transform(torch.from_numpy(audio)).numpy())
        return out


@dataclass(frozen=True)
class TextEmbeddingExtractor:
    """Frozen transformer features of the utterance's text (see :mod:`sertext.features.text`)."""

    model: str = DEFAULT_TEXT_MODEL
    pooling: str = "mean"
    include_special_tokens: bool = True
    max_tokens: int = 128
    batch_size: int = 32
    name: str = field(default="text", init=False)

    def settings(self) -> dict:
        return {"model": resolve_text_model(self.model)[1], "pooling": self.pooling,
                "include_special_tokens": self.include_special_tokens, "max_tokens": self.max_tokens}

    def content(self, row) -> bytes:
        return str(row.text).encode("utf-8")

    def compute(self, rows: list, contents: list[bytes]) -> list[np.ndarray]:
        encoder = _text_encoder(self.model, self.max_tokens, self.include_special_tokens)
        return encoder.encode([c.decode("utf-8") for c in contents], pooling=self.pooling)


@functools.cache
def _log_mel_module(config: LogMelConfig) -> LogMel:
    return LogMel(config).eval()


@functools.cache
def _text_encoder(model: str, max_tokens: int, include_special_tokens: bool) -> TextEncoder:
    return TextEncoder(model, max_tokens=max_tokens, include_special_tokens=include_special_tokens)


def extract(table: pd.DataFrame, extractor, cache: FeatureCache, *, progress: bool = True) -> dict:
    """Features of every row of ``table``, from the cache where possible.

    Returns:
        ``{utt_id: np.ndarray}`` in table order.

    Raises:
        sertext.data.AudioError: a wav cannot be read (named).
        FeatureCacheError: the cache folder cannot be written (named).
    """
    settings = extractor.settings()
    features, missing = {}, []
    for row in table.itertuples(index=False):
        data = extractor.content(row)
        key = entry_key(extractor.name, settings, content_digest(data))
        cached = cache.load(extractor.name, key)
        if cached is None:
            missing.append((row, data, key))
        else:
            features[row.utt_id] = cached
    with tqdm(total=len(missing), desc=f"extracting {extractor.name}", unit="utt",
              disable=not progress or not missing) as bar:
        for start in range(0, len(missing), extractor.batch_size):
            chunk = missing[start:start + extractor.batch_size]
            arrays = extractor.compute([r for r, _, _ in chunk], [d for _, d, _ in chunk])
            for (row, _, key), array in zip(chunk, arrays, strict=True):
                cache.store(extractor.name, key, array)
                features[row.utt_id] = array
            bar.update(len(chunk))
    return {utt_id: features[utt_id] for utt_id in table["utt_id"]}
