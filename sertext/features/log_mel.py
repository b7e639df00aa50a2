"""Log-Mel spectrograms matching the PANNs 16 kHz front end (CNN14's input).

16 kHz audio, Hann window n_fft = win = 512 (32 ms), hop 160 (10 ms), centred frames with reflect
padding, power spectrogram, 64 Slaney-normalised mel bins (Slaney scale) from 50 to 8000 Hz, then
10·log10(max(x, 1e-10)) with no top_db clipping — the torchlibrosa / librosa defaults PANNs uses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torchaudio


def check_spectrogram_settings(config) -> None:
    """Raise ``ValueError`` for a hop longer than the window or a band outside 0 … Nyquist (shared by
    every mel front end's config)."""
    if config.hop_length > config.n_fft:
        raise ValueError(f"hop_length ({config.hop_length}) exceeds n_fft ({config.n_fft})")
    if not 0 <= config.f_min_hz < config.f_max_hz <= config.sample_rate_hz / 2:
        raise ValueError(f"need 0 <= f_min_hz < f_max_hz <= {config.sample_rate_hz / 2}")


@dataclass(frozen=True)
class LogMelConfig:
    """Settings of the log-Mel front end (defaults: PANNs Cnn14_16k)."""

    sample_rate_hz: int = 16_000
    n_fft: int = 512  # 32 ms window at 16 kHz
    hop_length: int = 160  # 10 ms
    n_mels: int = 64
    f_min_hz: float = 50.0
    f_max_hz: float = 8000.0
    amin: float = 1e-10

    def __post_init__(self) -> None:
        check_spectrogram_settings(self)

    def settings(self) -> dict:
        return asdict(self)


class LogMel(torch.nn.Module):
    """``(..., samples)`` float waveform → ``(..., frames, n_mels)`` log-Mel in dB."""

    def __init__(self, config: LogMelConfig = LogMelConfig()) -> None:
        super().__init__()
        self.amin = config.amin
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=config.sample_rate_hz, n_fft=config.n_fft, win_length=config.n_fft,
            hop_length=config.hop_length, f_min=config.f_min_hz, f_max=config.f_max_hz,
            n_mels=config.n_mels, power=2.0, center=True, pad_mode="reflect",
            norm="slaney", mel_scale="slaney", window_fn=torch.hann_window,
        )

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        power = self.mel(waveform)  # (..., n_mels, frames)
        return (10.0 * torch.log10(torch.clamp(power, min=self.amin))).transpose(-1, -2)


def log_mel(audio: np.ndarray, config: LogMelConfig = LogMelConfig()) -> np.ndarray:
    """Log-Mel of one mono waveform at ``config.sample_rate_hz``: ``(frames, n_mels)`` float32.

    A 5 s clip gives 501 frames.
    """
    with torch.no_grad():
        return LogMel(config)(torch.from_numpy(np.asarray(audio, dtype=np.float32))).numpy()
