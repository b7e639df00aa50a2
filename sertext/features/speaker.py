"""Speaker embeddings for Makiuchi et al.: Resemblyzer d-vectors, averaged per speaker.

Per utterance (:class:`SpeakerEmbeddingExtractor`): Resemblyzer's ``VoiceEncoder`` (the weights ship
with the package; run on CPU) embeds the 16 kHz audio after ``preprocess_wav`` (volume
normalisation and VAD trimming of long silences): a 256-d, L2-normalised vector.

Per speaker (:func:`speaker_embeddings`): the mean over at most 100 randomly chosen utterances of
the speaker (session × gender in IEMOCAP), as in the public code (``make_pkl_data.py``), which
averages the normalised utterance vectors and does **not** re-normalise the mean; sertext does the
same.  Every speaker gets one, test speakers from their own (unlabelled) audio, so pass the whole
corpus table.  The public code asserts that a speaker has at least 100 utterances; sertext uses
all of them when there are fewer.

Fallbacks, counted in a warning for each extraction batch that has any:

* Resemblyzer's VAD finds no speech (very short, noisy or synthetic audio: the trimmed waveform is
  empty) → the volume-normalised, *untrimmed* audio is embedded instead.
* The audio is digital silence (all samples zero) → the embedding is all NaN, and
  :func:`speaker_embeddings` leaves that utterance out of its speaker's mean (counted again there).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sertext.data.audio import decode_wav

SAMPLE_RATE_HZ = 16_000  # Resemblyzer's rate: no resampling inside preprocess_wav
EMBEDDING_DIM = 256


@dataclass(frozen=True)
class SpeakerEmbeddingExtractor:
    """Resemblyzer embedding ``(256,)`` float32 of the utterance's wav (see the module docstring)."""

    name: str = "speaker-resemblyzer"
    batch_size: int = 16

    def settings(self) -> dict:
        return {"encoder": f"resemblyzer=={importlib.metadata.version('resemblyzer')}",
                "weights_sha256": _weights_digest(), "preprocess": "preprocess_wav+untrimmed-fallback"}

    def content(self, row) -> bytes:
        return Path(row.path).read_bytes()

    def compute(self, rows: list, contents: list[bytes]) -> list[np.ndarray]:
        embeddings, fallbacks = [], {"untrimmed": [], "silent": []}
        for row, data in zip(rows, contents, strict=True):
            embedding, outcome = embed_utterance(decode_wav(data, row.path, sample_rate_hz=SAMPLE_RATE_HZ))
            embeddings.append(embedding)
            if outcome != "trimmed":
                fallbacks[outcome].append(row.utt_id)
        if fallbacks["untrimmed"] or fallbacks["silent"]:
            warnings.warn(f"speaker embeddings of {len(rows)} utterances: {len(fallbacks['untrimmed'])} found no "
                          f"speech after VAD trimming and were embedded untrimmed {fallbacks['untrimmed']}; "
                          f"{len(fallbacks['silent'])} are silent and got NaN {fallbacks['silent']}", stacklevel=2)
        return embeddings


def embed_utterance(audio: np.ndarray) -> tuple[np.ndarray, str]:
    """The Resemblyzer embedding of 16 kHz audio and how it was obtained.

    Returns:
        ``(embedding (256,) float32, outcome)`` with outcome ``"trimmed"`` (the normal path),
        ``"untrimmed"`` (VAD left nothing) or ``"silent"`` (all-zero audio: NaN embedding).
    """
    if not np.any(audio):
        return np.full(EMBEDDING_DIM, np.nan, dtype=np.float32), "silent"
    resemblyzer = _resemblyzer()
    trimmed = resemblyzer.preprocess_wav(audio)
    if len(trimmed) > 0:
        return _voice_encoder().embed_utterance(trimmed).astype(np.float32), "trimmed"
    louder = resemblyzer.audio.normalize_volume(audio, resemblyzer.hparams.audio_norm_target_dBFS, increase_only=True)
    return _voice_encoder().embed_utterance(louder).astype(np.float32), "untrimmed"


def speaker_embeddings(table: pd.DataFrame, per_utterance: dict, max_utterances: int = 100,
                       seed: int = 0) -> dict[str, np.ndarray]:
    """The mean utterance embedding of every speaker in ``table``.

    Each speaker draws at most ``max_utterances`` of its utterances without replacement, from a
    generator seeded by ``seed`` and the speaker's name, so one speaker's draw does not depend on
    which other speakers the table holds.  Utterances whose embedding is NaN are left out (warned).

    Args:
        table: utterance table with ``utt_id`` and ``speaker`` (the whole corpus: test speakers too).
        per_utterance: ``{utt_id: (256,) embedding}``, e.g. from :class:`SpeakerEmbeddingExtractor`.

    Returns:
        ``{speaker: (256,) float32}``, not re-normalised (as the public code).

    Raises:
        ValueError: an utterance without a speaker or without an embedding, or a speaker with no
            usable embedding (named).
    """
    if table["speaker"].isna().any():
        raise ValueError(f"{int(table['speaker'].isna().sum())} utterances have no speaker")
    absent = [u for u in table["utt_id"] if u not in per_utterance]
    if absent:
        raise ValueError(f"{len(absent)} utterances have no embedding, e.g. {absent[:5]}")
    means, unusable = {}, []
    for speaker, utt_ids in table.groupby("speaker", sort=True, observed=True)["utt_id"]:
        usable = [u for u in utt_ids if np.isfinite(per_utterance[u]).all()]
        unusable += sorted(set(utt_ids) - set(usable))
        if not usable:
            raise ValueError(f"speaker {speaker}: none of its {len(utt_ids)} utterances has a usable embedding")
        rng = np.random.default_rng([seed, zlib.crc32(str(speaker).encode())])
        chosen = rng.choice(len(usable), size=min(max_utterances, len(usable)), replace=False)
        means[str(speaker)] = np.mean([per_utterance[usable[i]] for i in chosen], axis=0).astype(np.float32)
    if unusable:
        warnings.warn(f"{len(unusable)} utterances without a usable speaker embedding left out of their "
                      f"speaker's mean: {unusable[:10]}", stacklevel=2)
    return means


@functools.cache
def _resemblyzer():
    """The ``resemblyzer`` package, imported on first use (it imports a deprecated scipy namespace)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import resemblyzer
    return resemblyzer


@functools.cache
def _voice_encoder():
    return _resemblyzer().VoiceEncoder(device="cpu", verbose=False)


@functools.cache
def _weights_digest() -> str:
    weights = Path(_resemblyzer().__file__).parent / "pretrained.pt"
    return hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
