"""Frame features of Tzirakis et al. (docs/models.md (c)): raw-waveform frames and word vectors on
one 0.1 s grid.

The paper's SEWA pipeline resamples audio to 22,050 Hz and cuts it at the 10 Hz label rate into
frames of 2,205 samples; every frame covered by an aligned word gets that word's vector, the
others zeros.  sertext keeps the grid and applies it to whole IEMOCAP utterances:

* :class:`WaveformFramesExtractor` → ``(n_frames, 2205)`` float32.  The wav is resampled with
  ``scipy.signal.resample_poly`` (16 kHz → 22,050 Hz is the ratio 441/320) and the last frame is
  zero-padded.  The paper's 4,410-d frame holds a subject half and an interlocutor half (the other
  half zeros); an IEMOCAP utterance is one speaker's turn, so sertext keeps the subject half only.
* :class:`AlignedWordsExtractor` → ``(n_frames, dim)`` float32 from the utterance's ``.wdseg``
  (Sphinx forced alignment; the paper used aeneas) and a word-vector source, on the same grid
  (:func:`frame_count` gives both extractors the same ``n_frames``).

A frame gets the word whose half-open span ``[start, end)`` holds the frame's midpoint.  This is
the public code's rounding of word boundaries to the 0.1 s grid, except that the code also gives
each word the frame at its rounded end (inclusive), where the next word then overwrites it.  A
word shorter than 0.1 s may hold no midpoint and then appears in no frame.

The word-vector source is any object with ``dim``, ``vectors(words) -> (len(words), dim)``
float32 and ``settings() -> dict`` (sertext.features.words provides them).
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

from sertext.data.alignment import AlignedSegment, alignment_path, parse_segments
from sertext.data.audio import AudioError, decode_wav

FRAME_S = 0.1  # the paper's label rate, 10 Hz
SAMPLE_RATE_HZ = 22_050  # the paper's resampling rate
NON_WORDS = frozenset({"<s>", "</s>", "<sil>"})  # Sphinx sentence markers and silence
_VARIANT = re.compile(r"\(\d+\)$")  # pronunciation variants: THE(2)
_FILLER = re.compile(r"^\+\+(.*)\+\+$")  # ++LAUGHTER++, ++BREATHING++, ++GARBAGE++
_NOT_WORD_CHARACTER = re.compile(r"[^\w']")


def frame_count(n_samples: int, sample_rate_hz: int, *, frame_s: float = FRAME_S) -> int:
    """Frames of ``frame_s`` needed to hold ``n_samples`` at ``sample_rate_hz`` (at least one).

    Exact in rational arithmetic, so a 16 kHz wav gives the same count as its 22,050 Hz resampling
    (whose length is ``ceil(n · 441 / 320)``).

    Examples:
        >>> frame_count(16_000, 16_000), frame_count(16_001, 16_000), frame_count(22_050, 22_050)
        (10, 11, 10)
    """
    frames = Fraction(n_samples) / (sample_rate_hz * Fraction(frame_s).limit_denominator(10_000))
    return max(1, math.ceil(frames))


def frame_waveform(samples: np.ndarray, frame_samples: int) -> np.ndarray:
    """Cut a 1-D signal into rows of ``frame_samples``, zero-padding the last (at least one row).

    Examples:
        >>> frame_waveform(np.arange(1, 6, dtype=np.float32), 2).tolist()
        [[1.0, 2.0], [3.0, 4.0], [5.0, 0.0]]
    """
    n_frames = max(1, math.ceil(len(samples) / frame_samples))
    padded = np.zeros(n_frames * frame_samples, dtype=np.float32)
    padded[: len(samples)] = samples
    return padded.reshape(n_frames, frame_samples)


def clean_word(label: str) -> str:
    """The word of a Sphinx label: variant suffix and filler pluses removed, lower case, punctuation
    stripped except word-internal apostrophes ("" for a label with no word in it).

    The public code also strips apostrophes; sertext keeps them, as its transcript tokeniser does,
    so ``DON'T`` is looked up as ``don't``.

    Examples:
        >>> [clean_word(w) for w in ["THE(2)", "++LAUGHTER++", "DON'T", "U.S.", "'CAUSE", "--"]]
        ['the', 'laughter', "don't", 'us', 'cause', '']
    """
    word = _VARIANT.sub("", label.strip())
    filler = _FILLER.match(word)
    if filler:
        word = filler.group(1)
    return _NOT_WORD_CHARACTER.sub("", word.lower()).strip("'")


def spoken_words(segments: list[AlignedSegment]) -> list[tuple[str, AlignedSegment]]:
    """The segments that are words (markers, silences and empty labels dropped), with the clean word."""
    words = [(clean_word(s.label), s) for s in segments if s.label not in NON_WORDS]
    return [(word, segment) for word, segment in words if word]


def speech_segments(segments: list[AlignedSegment]) -> list[AlignedSegment]:
    """The segments that are speech: all but sentence markers and silences.  Fillers such as
    ``++LAUGHTER++`` stay; which segments these are does not depend on what the words are."""
    return [segment for segment in segments if segment.label not in NON_WORDS]


def midpoint_frames(start_s: float, end_s: float, *, frame_s: float = FRAME_S) -> range:
    """Frames whose midpoint lies in ``[start_s, end_s)``.

    Examples:
        >>> midpoint_frames(0.21, 0.32), midpoint_frames(0.0, 0.04), midpoint_frames(0.25, 0.35)
        (range(2, 3), range(0, 0), range(2, 3))
    """
    # Rounded first: Sphinx times are multiples of 10 ms, and 0.25 / 0.1 is 2.4999999999999996.
    first = math.ceil(round(start_s / frame_s - 0.5, 6))
    stop = math.ceil(round(end_s / frame_s - 0.5, 6))
    return range(max(first, 0), max(stop, 0))


def word_frames(segments: list[AlignedSegment], vectors, n_frames: int, *, frame_s: float = FRAME_S) -> np.ndarray:
    """Word vectors on the frame grid: ``(n_frames, vectors.dim)`` float32.

    Args:
        segments: the utterance's word alignment (``read_segments`` of its ``.wdseg``).
        vectors: the word-vector source (``dim``, ``vectors(words)``).
        n_frames: the utterance's frame count (:func:`frame_count`); words beyond it are cut.
        frame_s: the frame length.

    Returns:
        Each frame holds the vector of the word covering its midpoint; other frames are zeros.
    """
    words = spoken_words(segments)
    table = np.asarray(vectors.vectors([word for word, _ in words]), dtype=np.float32).reshape(len(words), vectors.dim)
    return place_on_frames(table, [segment for _, segment in words], n_frames, frame_s=frame_s)


def place_on_frames(rows: np.ndarray, segments: list[AlignedSegment], n_frames: int, *,
                    frame_s: float = FRAME_S) -> np.ndarray:
    """``(n_frames, dim)`` float32: each frame holds the row of the segment covering its midpoint
    (a later segment overwrites an earlier one), zeros elsewhere; segments beyond the grid are cut."""
    out = np.zeros((n_frames, np.shape(rows)[1]), dtype=np.float32)
    for row, segment in zip(rows, segments, strict=True):
        span = midpoint_frames(segment.start_s, segment.end_s, frame_s=frame_s)
        out[span.start:min(span.stop, n_frames)] = row
    return out


def alignment_content(row, missing_alignments: set) -> bytes:
    """An utterance's wav sample count and rate (its frame count) and its ``.wdseg`` bytes, the
    content of the frame extractors; a missing ``.wdseg`` (IEMOCAP lacks two) is warned about with
    its path, recorded in ``missing_alignments`` and read as empty (zero frames)."""
    n_samples, sample_rate_hz = _wav_length(row.path)
    path = alignment_path(row.path, "wdseg")
    try:
        alignment = path.read_bytes()
    except FileNotFoundError:
        warnings.warn(f"no word alignment {path}: {row.utt_id} gets zero word vectors", stacklevel=3)
        missing_alignments.add(str(path))
        alignment = b""
    return f"{n_samples} {sample_rate_hz}\n".encode() + alignment


def parse_alignment_content(row, data: bytes, *, frame_s: float = FRAME_S) -> tuple[list[AlignedSegment], int]:
    """The segments and the utterance's frame count (:func:`frame_count`) from
    :func:`alignment_content`'s bytes."""
    alignment = data.split(b"\n", 1)[1]
    segments = parse_segments(alignment.decode("utf-8", errors="replace"), str(alignment_path(row.path, "wdseg")))
    return segments, content_frame_count(data, frame_s=frame_s)


def content_frame_count(data: bytes, *, frame_s: float = FRAME_S) -> int:
    """The utterance's frame count from the ``"<samples> <rate>"`` line that heads a frame
    extractor's content (:func:`alignment_content`)."""
    n_samples, sample_rate_hz = (int(v) for v in data.split(b"\n", 1)[0].split())
    return frame_count(n_samples, sample_rate_hz, frame_s=frame_s)


@dataclass(frozen=True)
class WaveformFramesExtractor:
    """The utterance at ``sample_rate_hz`` cut into frames: ``(n_frames, frame_samples)`` float32."""

    sample_rate_hz: int = SAMPLE_RATE_HZ
    frame_s: float = FRAME_S
    batch_size: int = 16
    name: str = field(default="waveform-frames", init=False)

    def __post_init__(self) -> None:
        if abs(self.sample_rate_hz * self.frame_s - self.frame_samples) > 1e-6:
            raise ValueError(f"frame_s ({self.frame_s}) must be a whole number of samples at {self.sample_rate_hz} Hz")

    @property
    def frame_samples(self) -> int:
        return round(self.sample_rate_hz * self.frame_s)

    def settings(self) -> dict:
        return {"sample_rate_hz": self.sample_rate_hz, "frame_samples": self.frame_samples}

    def content(self, row) -> bytes:
        return Path(row.path).read_bytes()

    def compute(self, rows: list, contents: list[bytes]) -> list[np.ndarray]:
        return [frame_waveform(decode_wav(data, row.path, sample_rate_hz=self.sample_rate_hz), self.frame_samples)
                for row, data in zip(rows, contents, strict=True)]


@dataclass(frozen=True)
class AlignedWordsExtractor:
    """Word vectors of the utterance's ``.wdseg`` on the frame grid: ``(n_frames, vectors.dim)``.

    ``content`` holds the wav's sample count and rate (so ``n_frames`` equals the waveform
    extractor's) and the ``.wdseg`` bytes.  A missing ``.wdseg`` (IEMOCAP lacks two) gives zeros:
    :meth:`content` warns with the file's path on every extraction, cached or not, and records the
    path in ``missing_alignments``.
    """

    vectors: object
    frame_s: float = FRAME_S
    batch_size: int = 64
    name: str = field(default="aligned-words", init=False)
    missing_alignments: set = field(default_factory=set, init=False, compare=False, repr=False)

    def settings(self) -> dict:
        return {"frame_s": self.frame_s, "vectors": self.vectors.settings()}

    def content(self, row) -> bytes:
        return alignment_content(row, self.missing_alignments)

    def compute(self, rows: list, contents: list[bytes]) -> list[np.ndarray]:
        out = []
        for row, data in zip(rows, contents, strict=True):
            segments, n_frames = parse_alignment_content(row, data, frame_s=self.frame_s)
            out.append(word_frames(segments, self.vectors, n_frames, frame_s=self.frame_s))
        return out


def _wav_length(path) -> tuple[int, int]:
    """``(samples, sample_rate_hz)`` from a wav's header."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"cannot read wav {path}: {exc}") from exc
    return info.frames, info.samplerate
