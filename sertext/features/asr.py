"""Speech-recognition transcripts as a cached feature, and their word error rate.

MSP-Podcast had no transcripts when the multistage-conditioning paper was written, so the paper
transcribed it with DeepSpeech2, an open-source recogniser.  DeepSpeech2 is not a ``transformers``
model, so real runs take any Hugging Face speech-recognition model (Whisper, wav2vec 2.0 CTC, …) by
id or local folder; the demo and the tests use PocketSphinx, which installs from PyPI with its
English model and runs offline.  A transcript is stored in the shared feature cache like any feature
(keyed by the wav's bytes and the model), as a ``uint8`` array of its UTF-8 bytes, and
:func:`word_error_rate` scores it against the corpus' own transcripts where it has them.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sertext.data.audio import decode_wav

from . import extract
from .cache import FeatureCache
from .pretrained import check_pretrained, local_identity

#: The offline recogniser: PocketSphinx with the English model its wheel ships.
POCKETSPHINX = "pocketsphinx"
SAMPLE_RATE_HZ = 16_000  # what every recogniser here reads


def resolve_asr_model(name: str) -> tuple[str, str]:
    """Where to load a speech-recognition model from, and an identity for cache keys.

    Returns:
        ``(path_or_name, identity)``: PocketSphinx's model folder and ``pocketsphinx==VERSION/en-us``;
        for a local folder its resolved path and :func:`~sertext.features.pretrained.local_identity`
        (so the key does not depend on where the model is installed); a hub id twice.
    """
    if name == POCKETSPHINX:
        from importlib.metadata import version

        import pocketsphinx

        model = Path(pocketsphinx.Config()["hmm"]).parent  # .../model/en-us (acoustic model, LM, dictionary)
        return str(model), f"{POCKETSPHINX}=={version('pocketsphinx')}/{model.name}"
    path = Path(name).expanduser()
    return (str(path.resolve()), local_identity(path)) if path.is_dir() else (name, name)


def check_asr_model(name: str) -> None:
    """Fail fast, before any recognition, when ``name`` cannot be loaded
    (:func:`~sertext.features.pretrained.check_pretrained`; PocketSphinx always loads).

    Raises:
        ValueError: one line naming the model, the reason and the fix.
    """
    if name != POCKETSPHINX:
        check_pretrained(name, "speech-recognition model", "--asr-model",
                         otherwise=f"use --asr-model {POCKETSPHINX} (offline, English)")


@dataclass(frozen=True)
class TranscriptExtractor:
    """The recognised text of the utterance's wav, stored as the ``uint8`` array of its UTF-8 bytes.

    Args:
        model: :data:`POCKETSPHINX`, or a Hugging Face speech-recognition model id or local folder.
        batch_size: utterances per batch (the cache's unit of work; the transformers pipeline's batch).
    """

    model: str = POCKETSPHINX
    batch_size: int = 8
    name: str = field(default="transcript", init=False)

    @property
    def uses_gpu(self) -> bool:
        """Whether a Ray task should ask for a GPU share (PocketSphinx runs on the CPU only)."""
        return self.model != POCKETSPHINX

    def settings(self) -> dict:
        return {"model": resolve_asr_model(self.model)[1]}

    def content(self, row) -> bytes:
        return Path(row.path).read_bytes()

    def compute(self, rows: list, contents: list[bytes]) -> list[np.ndarray]:
        audio = [decode_wav(data, row.path, sample_rate_hz=SAMPLE_RATE_HZ)
                 for row, data in zip(rows, contents, strict=True)]
        texts = _sphinx_texts(audio) if self.model == POCKETSPHINX else _pipeline_texts(self.model, audio,
                                                                                         self.batch_size)
        return [np.frombuffer(text.strip().encode("utf-8"), dtype=np.uint8).copy() for text in texts]


def transcript_text(array: np.ndarray) -> str:
    """The text of a stored transcript (the inverse of :meth:`TranscriptExtractor.compute`)."""
    return np.asarray(array, dtype=np.uint8).tobytes().decode("utf-8")


def _sphinx_texts(audio: list[np.ndarray]) -> list[str]:
    decoder = _sphinx_decoder()
    texts = []
    for samples in audio:
        pcm = np.clip(np.round(samples * 32768), -32768, 32767).astype(np.int16)  # soundfile's int16 scale
        # The feature front end (cepstral mean, gain) carries state from one utterance to the next, so
        # without this a transcript would depend on the utterance before it; the cache key holds only the wav.
        decoder.reinit_feat()
        decoder.start_utt()
        decoder.process_raw(pcm.tobytes(), full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        texts.append(hypothesis.hypstr if hypothesis is not None else "")
    return texts


@functools.cache
def _sphinx_decoder():
    """One PocketSphinx decoder per process (loading its model takes about a second)."""
    import pocketsphinx

    # fwdflat=False skips the second (flat-lexicon) search pass: measured on the 60-utterance demo corpus,
    # 29 % less CPU at the same WER (0.73; 2 more errors in 379 words).  These options are in no cache
    # key: changing them must change the identity in resolve_asr_model (or FEATURE_VERSION).
    return pocketsphinx.Decoder(samprate=SAMPLE_RATE_HZ, fwdflat=False, loglevel="ERROR")


def _pipeline_texts(model: str, audio: list[np.ndarray], batch_size: int) -> list[str]:
    inputs = [{"raw": samples, "sampling_rate": SAMPLE_RATE_HZ} for samples in audio]
    return [out["text"] for out in _asr_pipeline(model)(inputs, batch_size=batch_size)]


@functools.cache
def _asr_pipeline(model: str):
    """A transformers speech-recognition pipeline, on CUDA device 0 when there is one.

    ``chunk_length_s=30`` cuts long utterances into overlapping windows (Whisper reads 30 s at most).
    """
    import torch
    from transformers import pipeline

    source, _ = resolve_asr_model(model)
    device = 0 if torch.cuda.is_available() else -1
    return pipeline("automatic-speech-recognition", model=source, device=device, chunk_length_s=30)


def recognised_text(table: pd.DataFrame, model: str, cache: FeatureCache, *, progress: bool = True) -> pd.Series:
    """``utt_id -> recognised text`` for every row of ``table``; only what the cache lacks is recognised.

    Raises:
        sertext.data.AudioError: a wav cannot be read (named).
        FeatureCacheError: the cache folder cannot be written (named).
    """
    transcripts = extract(table, TranscriptExtractor(model), cache, progress=progress)
    return pd.Series({utt_id: transcript_text(transcripts[utt_id]) for utt_id in transcripts}, dtype=object,
                     name="text").rename_axis("utt_id")


def with_recognised_text(table: pd.DataFrame, model: str, cache: FeatureCache, *,
                         progress: bool = True) -> pd.DataFrame:
    """A copy of ``table`` whose ``text`` is the recognised text and whose ``reference_text`` is the
    corpus' own (possibly empty).

    Every utterance gets the recogniser's text, as in the paper (one text source for the whole
    corpus); one where no word was heard keeps ``''``, which is data, not a missing transcript.
    """
    recognised = recognised_text(table, model, cache, progress=progress)
    out = table.copy()
    out["reference_text"] = table["text"]
    out["text"] = recognised.reindex(table["utt_id"]).to_numpy()
    return out


def normalise_words(text: str) -> str:
    """The text as :func:`word_error_rate` compares it: lower case, bracketed non-speech tags such as
    ``[LAUGHTER]`` removed, punctuation except apostrophes inside words removed, whitespace collapsed.

    >>> normalise_words("[LAUGHTER] No, I DON'T... 'know'!")
    "no i don't know"
    """
    text = re.sub(r"\[[^\]]*\]", " ", str(text).lower())
    text = re.sub(r"[^\w\s']|_|(?<!\w)'|'(?!\w)", " ", text)
    return " ".join(text.split())


def word_error_rate(references, hypotheses) -> dict:
    """Corpus-level word error rate (total errors / total reference words) with ``jiwer``, over the
    utterances whose normalised reference has words (see :func:`normalise_words`).

    Returns:
        ``{"wer", "utterances" (scored), "reference_words", "no_reference" (left out: empty
        reference)}``; ``wer`` is NaN when nothing could be scored.
    """
    import jiwer

    pairs = [(normalise_words(r), normalise_words(h)) for r, h in zip(references, hypotheses, strict=True)]
    scored = [(r, h) for r, h in pairs if r]
    words = sum(len(r.split()) for r, _ in scored)
    wer = float(jiwer.wer([r for r, _ in scored], [h for _, h in scored])) if scored else float("nan")
    return {"wer": wer, "utterances": len(scored), "reference_words": words, "no_reference": len(pairs) - len(scored)}
