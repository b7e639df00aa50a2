"""Tzirakis et al.'s semantic features from a fold's own semantic space, on the 0.1 s frame grid of
:mod:`sertext.features.frames`: each frame holds the Word2Vec, Speech2Vec or aligned Speech2Vec
vector (:mod:`sertext.semantic.space`) of the word segment covering its midpoint, zeros elsewhere.

The space is trained on the fold's training utterances only (their transcripts, word alignments and
audio; no dev or test word, no dev or test audio) and is kept in the shared feature cache, as the
features are: its key hashes its settings and the content of every training utterance (wav,
``.wdseg`` and transcript), so each fold's space is trained once for all its trials, and a changed
file or setting can never return a stale one.

With ``speech2vec`` and ``aligned_speech2vec`` an utterance's features read its audio and the
*boundaries* of its word alignment (which spans are speech rather than sentence markers or
silence) and nothing else: :meth:`SemanticFramesExtractor.content` replaces every word of the
alignment by a placeholder before anything is computed, and the transcript is never read.  Real
deployment would get the boundaries from a word segmenter instead of a forced alignment; sertext
uses the corpus's alignment, as the paper does for its test partition.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from sertext.data.alignment import AlignedSegment, alignment_path
from sertext.semantic.space import (
    CHECKS,
    SEMANTICS,
    SPEECH_ONLY,
    SemanticConfig,
    SemanticSpace,
    SpokenUtterance,
    mfcc,
    train_space,
)
from sertext.semantic.speech2vec import Speech2Vec

from . import LogMelExtractor, extract
from .cache import FeatureCache, content_digest, entry_key
from .frames import (
    FRAME_S,
    alignment_content,
    clean_word,
    content_frame_count,
    parse_alignment_content,
    place_on_frames,
    speech_segments,
    spoken_words,
)
from .words import transcript_words

SPACE_ENTRY = "semantic-space"


@dataclass(frozen=True, eq=False)
class SemanticFramesExtractor:
    """``(n_frames, dim)`` semantic vectors of an utterance from the space of ``training``.

    Args:
        semantic: one of :data:`sertext.semantic.space.SEMANTICS`.
        training: the fold's training utterances (``utt_id``, ``path``, ``text``).
        cache: the feature cache, which also holds the space.
        config: how the space is trained.
    """

    semantic: str
    training: pd.DataFrame
    cache: FeatureCache
    config: SemanticConfig = SemanticConfig()
    frame_s: float = FRAME_S
    batch_size: int = 64
    progress: bool = True
    name: str = field(default="semantic-frames", init=False)
    missing_alignments: set = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.semantic not in SEMANTICS:
            raise ValueError(f"semantic must be one of {SEMANTICS}, got {self.semantic!r}")
        if self.training.empty:
            raise ValueError("the semantic space needs training utterances; the fold has none")

    @functools.cached_property
    def space_key(self) -> str:
        """The cache key of the space: its settings and its training utterances' content."""
        described = [(row.utt_id, _file_digest(row.path), _file_digest(alignment_path(row.path, "wdseg")),
                      str(row.text)) for row in self.training.sort_values("utt_id").itertuples(index=False)]
        return entry_key(SPACE_ENTRY, self.config.settings(), content_digest(json.dumps(described).encode()))

    @functools.cached_property
    def space(self) -> SemanticSpace:
        """The fold's space, from the cache, else trained on ``training`` and stored."""
        space = load_space(self.cache, self.space_key, self.config)
        if space is None:
            if self.progress:
                print(f"training a semantic space on {len(self.training)} training utterances "
                      "(Word2Vec, Speech2Vec, their alignment)", flush=True)
            space = train_space(self._training_utterances(), self.config, progress=self.progress)
            store_space(self.cache, self.space_key, space)
            if self.progress:
                print("alignment check: " + ", ".join(f"{k} {v:.3f}" for k, v in space.check.items()), flush=True)
        return space

    def settings(self) -> dict:
        return {"semantic": self.semantic, "space": self.space_key, "frame_s": self.frame_s}

    def content(self, row) -> bytes:
        """``word2vec``: the wav's length and the ``.wdseg``; the speech-only kinds: the wav's length
        and digest and the speech segments' boundaries, no word."""
        data = alignment_content(row, self.missing_alignments)
        if self.semantic not in SPEECH_ONLY:
            return data
        header, _ = data.split(b"\n", 1)
        segments, _ = parse_alignment_content(row, data, frame_s=self.frame_s)
        spans = "".join(f"{s.start_s!r} {s.end_s!r}\n" for s in speech_segments(segments))
        return header + f"\n{_file_digest(row.path)}\n{spans}".encode()

    def compute(self, rows: list, contents: list[bytes]) -> list[np.ndarray]:
        space = self.space
        if self.semantic not in SPEECH_ONLY:
            out = []
            for row, data in zip(rows, contents, strict=True):
                segments, n_frames = parse_alignment_content(row, data, frame_s=self.frame_s)
                words = spoken_words(segments)
                vectors = space.text_vectors([word for word, _ in words])
                out.append(place_on_frames(vectors, [segment for _, segment in words], n_frames, frame_s=self.frame_s))
            return out
        log_mels = extract(pd.DataFrame(rows), LogMelExtractor(), self.cache, progress=False)
        out = []
        for row, data in zip(rows, contents, strict=True):
            spans = _parse_spans(data)
            vectors = space.speech_vectors(mfcc(log_mels[row.utt_id], self.config.n_mfcc),
                                           [(s.start_s, s.end_s) for s in spans],
                                           aligned=self.semantic == "aligned_speech2vec")
            n_frames = content_frame_count(data, frame_s=self.frame_s)
            out.append(place_on_frames(vectors, spans, n_frames, frame_s=self.frame_s))
        return out

    def _training_utterances(self) -> list[SpokenUtterance]:
        log_mels = extract(self.training, LogMelExtractor(), self.cache, progress=self.progress)
        utterances = []
        for row in self.training.itertuples(index=False):
            segments, _ = parse_alignment_content(row, alignment_content(row, self.missing_alignments))
            speech = speech_segments(segments)
            utterances.append(SpokenUtterance(
                mfcc(log_mels[row.utt_id], self.config.n_mfcc), tuple((s.start_s, s.end_s) for s in speech),
                tuple(clean_word(s.label) for s in speech), tuple(transcript_words(str(row.text)))))
        return utterances


def _parse_spans(data: bytes) -> list[AlignedSegment]:
    """The speech spans of a speech-only :meth:`SemanticFramesExtractor.content`."""
    lines = data.decode().splitlines()[2:]
    return [AlignedSegment("", float(start), float(end)) for start, end in (line.split() for line in lines)]


def _file_digest(path) -> str:
    """SHA-256 of a file's bytes ("" when it does not exist), computed once per file version."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return ""
    return _digest(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=1 << 16)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as handle:
        return content_digest(handle.read())


def store_space(cache: FeatureCache, key: str, space: SemanticSpace) -> None:
    """Keep a space in the feature cache, as one entry per array."""
    words = list(space.word_vectors)
    parts = {"words": np.array(words, dtype=str),
             "word_vectors": np.stack([space.word_vectors[w] for w in words]).astype(np.float32),
             "speech2vec": parameters_to_vector(space.speech2vec.parameters()).detach().numpy(),
             "mfcc_scale": np.stack([space.mfcc_mean, space.mfcc_std]),
             "matrix": space.matrix,
             "check": np.array([space.check[name] for name in CHECKS], dtype=np.float64)}
    for part, array in parts.items():
        cache.store(SPACE_ENTRY, f"{key}-{part}", array)


def load_space(cache: FeatureCache, key: str, config: SemanticConfig) -> SemanticSpace | None:
    """The space stored under ``key``, or ``None`` when any part of it is missing."""
    parts = {part: cache.load(SPACE_ENTRY, f"{key}-{part}")
             for part in ("words", "word_vectors", "speech2vec", "mfcc_scale", "matrix", "check")}
    if any(array is None for array in parts.values()):
        return None
    model = Speech2Vec(config.n_mfcc, dim=config.dim)
    vector_to_parameters(torch.from_numpy(parts["speech2vec"]), model.parameters())
    return SemanticSpace(dict(zip(parts["words"].tolist(), parts["word_vectors"], strict=True)), model.eval(),
                         parts["mfcc_scale"][0], parts["mfcc_scale"][1], parts["matrix"],
                         dict(zip(CHECKS, parts["check"].tolist(), strict=True)))

