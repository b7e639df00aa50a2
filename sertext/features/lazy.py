"""Features read from the cache when used, so that a trial's memory does not grow with the corpus.

:func:`sertext.features.extract` returns a :class:`CachedFeatures`: a read-only ``{utt_id: array}``
mapping that holds only cache keys.  Each access reads one entry, verified by its checksum the
first time and memory-mapped after that, so a batch costs the memory of that batch (and a crop
only the frames it keeps), whether the corpus has half an hour of audio or a hundred hours.
:class:`SpeakerStandardised` standardises such features per speaker with statistics gathered in
one streaming pass, again without holding the features.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd

from .cache import FeatureCache, content_digest, entry_key


def compute_entries(rows: list, extractor, cache: FeatureCache) -> list[tuple[str, np.ndarray]]:
    """Compute the features of ``rows`` in one batch, store them, and return ``(key, array)`` each.

    The key is taken from the content read here, the same content the feature is computed from.
    """
    settings = extractor.settings()
    contents = [extractor.content(row) for row in rows]
    keys = [entry_key(extractor.name, settings, content_digest(data)) for data in contents]
    arrays = extractor.compute(rows, contents)
    for key, array in zip(keys, arrays, strict=True):
        cache.store(extractor.name, key, array)
    return list(zip(keys, arrays, strict=True))


class CachedFeatures(Mapping):
    """``{utt_id: array}`` of one extractor over a table, read from the cache on each access.

    An entry is read whole and checked against its checksum on its first access, and memory-mapped
    on later ones.  One found missing or corrupt (deleted, or damaged on disk, after extraction) is
    recomputed from its utterance and stored again, never used as it is.

    Args:
        extractor: the extractor the entries were computed with.
        cache: the cache that holds them.
        keys: ``{utt_id: entry key}`` in table order.
        rows: ``{utt_id: table row}``, to recompute an entry from.
    """

    def __init__(self, extractor, cache: FeatureCache, keys: dict, rows: dict) -> None:
        self._extractor, self._cache, self._keys, self._rows = extractor, cache, keys, rows
        self._verified: dict[str, tuple] = {}  # key -> (shape, dtype) of the entry verified

    def __getitem__(self, utt_id) -> np.ndarray:
        key, name = self._keys[utt_id], self._extractor.name
        array = self._cache.map(name, key, *self._verified[key]) if key in self._verified else None
        if array is None:
            array = self._cache.load(name, key)
        if array is None:
            ((key, array),) = compute_entries([self._rows[utt_id]], self._extractor, self._cache)
            self._keys[utt_id] = key
        self._verified[key] = (array.shape, array.dtype)
        return array

    def __iter__(self) -> Iterator:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


class SpeakerStandardised(Mapping):
    """Frame features (``(frames, dims)``) standardised per dimension by the mean and standard
    deviation over all frames of the speaker's utterances, computed when used.

    The statistics are gathered in one pass that reads one utterance at a time (Chan et al.'s
    pairwise update, in float64), so they need no more memory than the largest utterance.
    Utterances without a speaker are standardised alone.

    Args:
        features: ``{utt_id: (frames, dims) array}``, e.g. :class:`CachedFeatures`.
        speakers: ``{utt_id: speaker}`` (NaN: no speaker).
    """

    def __init__(self, features: Mapping, speakers: pd.Series) -> None:
        self._features = features
        self._group = {u: u if pd.isna(speakers[u]) else speakers[u] for u in features}
        members: dict = {}
        for utt_id, group in self._group.items():
            members.setdefault(group, []).append(utt_id)
        self._stats = {group: _mean_and_std(features, ids) for group, ids in members.items()}

    def __getitem__(self, utt_id) -> np.ndarray:
        mean, std = self._stats[self._group[utt_id]]
        return ((self._features[utt_id] - mean) / std).astype(np.float32)

    def __iter__(self) -> Iterator:
        return iter(self._features)

    def __len__(self) -> int:
        return len(self._features)


def _mean_and_std(features: Mapping, ids: list) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (+1e-5) per dimension over all frames of ``ids``, as float32."""
    count, mean, squares = 0, 0.0, 0.0
    for utt_id in ids:
        frames = np.asarray(features[utt_id], np.float64)
        n = len(frames)
        if n == 0:
            continue
        frame_mean = frames.mean(axis=0)
        delta, total = frame_mean - mean, count + len(frames)
        squares = squares + ((frames - frame_mean) ** 2).sum(axis=0) + delta**2 * count * n / total
        mean, count = mean + delta * n / total, total
    return np.asarray(mean, np.float32), (np.sqrt(squares / count) + 1e-5).astype(np.float32)
