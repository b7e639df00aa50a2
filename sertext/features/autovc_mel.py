"""The 80-bin mel spectrogram of the AutoVC recipe: the reconstruction target of Makiuchi et al.

Recipe (docs/models.md (b), ``make_spect.py`` of the public code): 16 kHz audio, a 5th-order
Butterworth high-pass at 30 Hz applied forwards and backwards (zero phase, ``scipy.signal.filtfilt``)
to remove drift, reflect padding of 200 samples on each side, periodic Hann window of 400 samples,
hop 320 (20 ms), magnitude STFT, 80 Slaney mel bands from 90 to 7600 Hz (librosa's default
filterbank, built here with ``torchaudio.functional.melscale_fbanks(norm="slaney",
mel_scale="slaney")``), then ``dB = 20·log10(max(1e-5, mel)) − 16`` and ``(dB + 100) / 100``
clipped to [0, 1].

A clip of ``n`` samples gives ``n // 320 + 1`` frames (:func:`autovc_frame_count`); the wav2vec 2.0
features and the frame-level phones are made to match that count.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torchaudio
from scipy import signal

from sertext.data.audio import decode_wav

from .log_mel import check_spectrogram_settings


@dataclass(frozen=True)
class AutoVCMelConfig:
    """Settings of the AutoVC mel front end (defaults: the public code's ``make_spect.py``)."""

    sample_rate_hz: int = 16_000
    n_fft: int = 400  # 25 ms Hann window
    hop_length: int = 320  # 20 ms: one frame per wav2vec 2.0 frame
    n_mels: int = 80
    f_min_hz: float = 90.0
    f_max_hz: float = 7600.0
    highpass_hz: float = 30.0
    highpass_order: int = 5
    min_level: float = 1e-5  # the -100 dB floor
    ref_level_db: float = 16.0

    def __post_init__(self) -> None:
        check_spectrogram_settings(self)

    def settings(self) -> dict:
        return asdict(self)


def autovc_frame_count(n_samples: int, config: AutoVCMelConfig = AutoVCMelConfig()) -> int:
    """Frames of :func:`autovc_mel` for ``n_samples`` samples: ``n // 320 + 1`` at the defaults.

    Examples:
        >>> autovc_frame_count(16_000), autovc_frame_count(319), autovc_frame_count(320)
        (51, 1, 2)
    """
    padded = n_samples + 2 * (config.n_fft // 2)
    return (padded - config.n_fft) // config.hop_length + 1


def autovc_mel(audio: np.ndarray, config: AutoVCMelConfig = AutoVCMelConfig()) -> np.ndarray:
    """The normalised mel of one mono waveform at ``config.sample_rate_hz``: ``(frames, n_mels)``
    float32 in [0, 1], ``frames = autovc_frame_count(len(audio))``."""
    filtered = _highpass(np.asarray(audio, dtype=np.float64), config)
    padded = np.pad(filtered, config.n_fft // 2, mode="reflect")  # numpy reflects short clips too
    spectrum = torch.stft(torch.from_numpy(padded), n_fft=config.n_fft, hop_length=config.hop_length,
                          window=torch.hann_window(config.n_fft, dtype=torch.float64), center=False,
                          return_complex=True).abs()  # (freqs, frames)
    mel = spectrum.T @ _mel_filterbank(config)  # (frames, n_mels)
    decibels = 20.0 * torch.log10(torch.clamp(mel, min=config.min_level)) - config.ref_level_db
    return torch.clamp((decibels + 100.0) / 100.0, 0.0, 1.0).numpy().astype(np.float32)


def _highpass(audio: np.ndarray, config: AutoVCMelConfig) -> np.ndarray:
    """Zero-phase Butterworth high-pass (removes drift below ``highpass_hz``)."""
    b, a = _butter_highpass(config.highpass_hz, config.sample_rate_hz, config.highpass_order)
    # filtfilt's default edge padding needs more than 3·order+3 samples; shorter clips (none in
    # IEMOCAP) use what they have instead of failing.
    padlen = min(3 * max(len(a), len(b)), len(audio) - 1)
    return signal.filtfilt(b, a, audio, padlen=padlen)


@functools.cache
def _butter_highpass(cutoff_hz: float, sample_rate_hz: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    return signal.butter(order, cutoff_hz / (sample_rate_hz / 2), btype="high")


@functools.cache
def _mel_filterbank(config: AutoVCMelConfig) -> torch.Tensor:
    """``(freqs, n_mels)`` float64: librosa's default (Slaney scale and area normalisation)."""
    return torchaudio.functional.melscale_fbanks(
        n_freqs=config.n_fft // 2 + 1, f_min=config.f_min_hz, f_max=config.f_max_hz, n_mels=config.n_mels,
        sample_rate=config.sample_rate_hz, norm="slaney", mel_scale="slaney",
    ).double()


@dataclass(frozen=True)
class AutoVCMelExtractor:
    """AutoVC mel ``(frames, 80)`` float32 of the utterance's wav (see the module docstring)."""

    config: AutoVCMelConfig = AutoVCMelConfig()
    name: str = "autovc-mel"
    batch_size: int = 16

    def settings(self) -> dict:
        return self.config.settings()

    def content(self, row) -> bytes:
        return Path(row.path).read_bytes()

    def compute(self, rows: list, contents: list[bytes]) -> list[np.ndarray]:
        return [autovc_mel(decode_wav(data, row.path, sample_rate_hz=self.config.sample_rate_hz), self.config)
                for row, data in zip(rows, contents, strict=True)]
