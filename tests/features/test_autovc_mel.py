"""AutoVC mel against an independent NumPy + librosa implementation of the public recipe."""


import librosa
import numpy as np
import pytest
import torchaudio
from scipy import signal

from sertext.features import FeatureCache, extract
from sertext.features.autovc_mel import AutoVCMelConfig, AutoVCMelExtractor, autovc_frame_count, autovc_mel
from tests.fixtures import CountingExtractor, wav_table


def _reference(audio, sr=16000, n_fft=400, hop=320):
    """The recipe written out: filtfilt high-pass, strided Hann frames, librosa mel, dB, scaling."""
    b, a = signal.butter(5, 30 / (sr / 2), btype="high")
    x = np.pad(signal.filtfilt(b, a, audio.astype(np.float64)), n_fft // 2, mode="reflect")
    window = signal.get_window("hann", n_fft, fftbins=True)
    frames = np.stack([x[i:i + n_fft] * window for i in range(0, len(x) - n_fft + 1, hop)])
    magnitude = np.abs(np.fft.rfft(frames, n=n_fft, axis=1))
    mel = magnitude @ librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=80, fmin=90, fmax=7600).T
    decibels = 20 * np.log10(np.maximum(1e-5, mel)) - 16
    return np.clip((decibels + 100) / 100, 0, 1)


def _speech_like(n_samples, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / 16000
    tone = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    return (tone + 0.02 * rng.standard_normal(n_samples) + 0.05).astype(np.float32)  # DC drift included


def test_filterbank_matches_librosa():
    ours = torchaudio.functional.melscale_fbanks(201, 90.0, 7600.0, 80, 16000, norm="slaney", mel_scale="slaney")
    theirs = librosa.filters.mel(sr=16000, n_fft=400, n_mels=80, fmin=90, fmax=7600)
    assert np.allclose(ours.numpy().T, theirs, atol=1e-6)


@pytest.mark.parametrize("n_samples", [16000, 16000 + 79, 24321, 150])
def test_matches_the_reference_recipe(n_samples):
    audio = _speech_like(n_samples)
    ours = autovc_mel(audio)
    expected = _reference(audio)
    assert ours.dtype == np.float32
    assert ours.shape == expected.shape == (autovc_frame_count(n_samples), 80)
    assert np.abs(ours - expected).max() < 1e-5
    assert 0.0 <= ours.min() and ours.max() <= 1.0 and ours.max() > 0.5


def test_frame_count_is_one_per_hop_plus_one():
    assert [autovc_frame_count(n) for n in (1, 319, 320, 639, 640, 16000)] == [1, 1, 2, 2, 3, 51]
    assert autovc_frame_count(16000, AutoVCMelConfig(hop_length=160)) == 101


def test_second_extraction_reads_the_cache(tmp_path):
    table = wav_table(tmp_path, [0.3, 0.4, 0.5])
    cache, calls = FeatureCache(tmp_path / "cache"), []
    cold = extract(table, CountingExtractor(AutoVCMelExtractor(), calls), cache, progress=False)
    warm = extract(table, CountingExtractor(AutoVCMelExtractor(), calls), cache, progress=False)
    assert sum(calls) == 3
    assert all(np.array_equal(cold[u], warm[u]) for u in cold)
    assert cold["u2"].shape == (autovc_frame_count(int(0.5 * 16000)), 80)
    forty = AutoVCMelExtractor(config=AutoVCMelConfig(n_mels=40))
    extract(table, CountingExtractor(forty, calls), cache, progress=False)
    assert sum(calls) == 6  # another setting, another key
