"""Features for every utterance of a table, computed once and kept in the shared cache.

An extractor has a ``name``, its ``settings`` (part of the cache key), the ``content`` of an
utterance it depends on (wav bytes or text) and a batched ``compute``.  :func:`extract` looks
every utterance up in the :class:`FeatureCache`, computes only what is missing (with a progress
bar) and returns ``{utt_id: array}`` as a mapping that reads each entry from the cache when used
(:class:`CachedFeatures`), so no caller holds a corpus's features in memory.
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
from .lazy import CachedFeatures, compute_entries
from .log_mel import LogMel, LogMelConfig, log_mel
from .text import DEFAULT_TEXT_MODEL, TextEncoder, resolve_text_model

__all__ = [
    "CachedFeatures", "DEFAULT_TEXT_MODEL", "FEATURE_VERSION", "FeatureCache", "FeatureCacheError", "LogMelConfig",
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


def extract(table: pd.DataFrame, extractor, cache: FeatureCache, *, progress: bool = True) -> CachedFeatures:
    """Features of every row of ``table``: computes what the cache lacks (with a progress bar) and
    returns them as a mapping that reads each entry when used (see :mod:`sertext.features.lazy`).

    Returns:
        ``{utt_id: np.ndarray}`` in table order, read from the cache on access.

    Raises:
        sertext.data.AudioError: a wav cannot be read (named).
        FeatureCacheError: the cache folder cannot be written (named).
    """
    settings = extractor.settings()
    keys, rows, missing = {}, {}, []
    for row in table.itertuples(index=False):
        keys[row.utt_id] = entry_key(extractor.name, settings, content_digest(extractor.content(row)))
        rows[row.utt_id] = row
        if not cache.path(extractor.name, keys[row.utt_id]).is_file():
            missing.append(row)
    with tqdm(total=len(missing), desc=f"extracting {extractor.name}", unit="utt",
              disable=not progress or not missing) as bar:
        for start in range(0, len(missing), extractor.batch_size):
            chunk = missing[start:start + extractor.batch_size]
            for row, (key, _) in zip(chunk, compute_entries(chunk, extractor, cache), strict=True):
                keys[row.utt_id] = key
            bar.update(len(chunk))
    return CachedFeatures(extractor, cache, keys, rows)
