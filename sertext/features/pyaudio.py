"""Utterance statistics of pyAudioAnalysis' 34 short-term features: Atmaja & Akagi's acoustic input.

pyAudioAnalysis' ``ShortTermFeatures.feature_extraction`` (25 ms windows, 10 ms hop, no deltas)
gives 34 low-level descriptors per frame, in this order: zero-crossing rate, energy, entropy of
energy, spectral centroid, spread, entropy, flux, roll-off, 13 MFCCs, 12 chroma bins and the
chroma deviation.  The utterance vector is their mean over frames followed by their standard
deviation (population, ``ddof=0``): 68 values, ``[means of the 34 | stds of the 34]``.

Scale: pyAudioAnalysis expects the int16 sample values that its own ``read_audio_file`` returns:
it divides by 2**15, removes the DC offset and divides by the peak.  sertext reads float samples
in [-1, 1] and multiplies them by 2**15, so the features equal those of the author's pipeline
(the peak normalisation makes them independent of the recording gain anyway).

Edge cases, handled so that no utterance yields NaN:

* A clip shorter than one window (400 samples at 16 kHz), where pyAudioAnalysis would fail, is
  padded with zeros to one window: one frame, so its stds are 0.
* Silence: pyAudioAnalysis' own guards (a 1e-10 in the peak division, ``eps`` in the ratios)
  give finite values, e.g. a zero-crossing rate and energy of 0.
* Samples after the last full window are ignored, as in pyAudioAnalysis.

pyAudioAnalysis loops over frames in Python (about 0.2 s per second of audio), so this is the
slowest extractor; the shared cache runs it once per corpus.  The import (matplotlib) is deferred
to the first computation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np

from sertext.data.audio import SAMPLE_RATE_HZ, decode_wav

N_LOW_LEVEL = 34
INT16_SCALE = 2.0**15  # pyAudioAnalysis divides by this: it expects int16-valued samples


def short_term_features(audio: np.ndarray, *, sample_rate_hz: int = SAMPLE_RATE_HZ, window_s: float = 0.025,
                        hop_s: float = 0.010) -> np.ndarray:
    """pyAudioAnalysis' 34 short-term features per frame, ``(frames, 34)``.

    Args:
        audio: mono float samples in [-1, 1].
        sample_rate_hz: the audio's sample rate.
        window_s, hop_s: frame length and step.

    Returns:
        At least one frame: audio shorter than a window is zero-padded to one window.
    """
    from pyAudioAnalysis import ShortTermFeatures

    window = round(window_s * sample_rate_hz)
    hop = round(hop_s * sample_rate_hz)
    samples = np.asarray(audio, dtype=np.float64) * INT16_SCALE
    if len(samples) < window:
        samples = np.pad(samples, (0, window - len(samples)))
    features, _ = ShortTermFeatures.feature_extraction(samples, sample_rate_hz, window, hop, deltas=False)
    return features.T


def acoustic_stats(audio: np.ndarray, *, sample_rate_hz: int = SAMPLE_RATE_HZ, window_s: float = 0.025,
                   hop_s: float = 0.010) -> np.ndarray:
    """Mean then standard deviation over frames of the 34 short-term features: ``(68,)`` float32."""
    frames = short_term_features(audio, sample_rate_hz=sample_rate_hz, window_s=window_s, hop_s=hop_s)
    return np.concatenate([frames.mean(axis=0), frames.std(axis=0)]).astype(np.float32)


@dataclass(frozen=True)
class AcousticStatsExtractor:
    """The 68-d pyAudioAnalysis mean + std vector of the utterance's 16 kHz mono wav."""

    sample_rate_hz: int = SAMPLE_RATE_HZ
    window_s: float = 0.025
    hop_s: float = 0.010
    batch_size: int = 16
    name: str = field(default="acoustic-stats", init=False)

    def settings(self) -> dict:
        return {"sample_rate_hz": self.sample_rate_hz, "window_s": self.window_s, "hop_s": self.hop_s,
                "pyAudioAnalysis": version("pyAudioAnalysis")}  # a new release may change features

    def content(self, row) -> bytes:
        return Path(row.path).read_bytes()

    def compute(self, rows: list, contents: list[bytes]) -> list[np.ndarray]:
        out = []
        for row, data in zip(rows, contents, strict=True):
            audio = decode_wav(data, row.path, sample_rate_hz=self.sample_rate_hz)
            stats = acoustic_stats(audio, sample_rate_hz=self.sample_rate_hz, window_s=self.window_s,
                                   hop_s=self.hop_s)
            if not np.isfinite(stats).all():
                raise ValueError(f"pyAudioAnalysis features of {row.path} are not finite")
            out.append(stats)
        return out
