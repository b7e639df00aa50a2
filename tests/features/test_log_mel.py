"""Log-Mel against an independent NumPy implementation of the PANNs / librosa front end."""

import numpy as np
import pytest

from sertext.features import LogMelConfig, log_mel


def _hz_to_mel(f):
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    mel = 3.0 * f / 200.0
    log_part = f >= 1000.0
    return np.where(log_part, 15.0 + np.log(np.maximum(f, 1e-12) / 1000.0) / (np.log(6.4) / 27.0), mel)


def _mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), 200.0 * m / 3.0)


def _mel_filterbank(sr, n_fft, n_mels, fmin, fmax):
    fft_hz = np.linspace(0, sr / 2, n_fft // 2 + 1)
    mel_hz = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    weights = np.zeros((n_mels, len(fft_hz)))
    for i in range(n_mels):
        lower = (fft_hz - mel_hz[i]) / (mel_hz[i + 1] - mel_hz[i])
        upper = (mel_hz[i + 2] - fft_hz) / (mel_hz[i + 2] - mel_hz[i + 1])
        weights[i] = np.maximum(0, np.minimum(lower, upper)) * 2.0 / (mel_hz[i + 2] - mel_hz[i])
    return weights


def _reference(audio, sr=16000, n_fft=512, hop=160, n_mels=64, fmin=50.0, fmax=8000.0):
    padded = np.pad(audio.astype(np.float64), n_fft // 2, mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    frames = np.stack([padded[i:i + n_fft] * window for i in range(0, len(padded) - n_fft + 1, hop)])
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    return 10 * np.log10(np.maximum(power @ _mel_filterbank(sr, n_fft, n_mels, fmin, fmax).T, 1e-10))


def test_matches_reference_front_end():
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.normal(size=t.size)).astype(np.float32)
    ours, reference = log_mel(audio), _reference(audio)
    assert ours.shape == reference.shape == (101, 64)
    assert np.abs(ours - reference).max() < 0.01  # dB


def test_five_seconds_give_501_frames_and_silence_is_floored():
    out = log_mel(np.zeros(5 * 16000, dtype=np.float32))
    assert out.shape == (501, 64)
    assert np.allclose(out, -100.0)


def test_settings_are_validated():
    with pytest.raises(ValueError, match="hop_length"):
        LogMelConfig(hop_length=1024)
    with pytest.raises(ValueError, match="f_max_hz"):
        LogMelConfig(f_max_hz=9000)
