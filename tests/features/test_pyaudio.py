"""pyAudioAnalysis statistics: layout, two features recomputed with numpy, edge cases, cache reuse."""


import numpy as np
import pytest

from sertext.features import FeatureCache, extract
from sertext.features.pyaudio import AcousticStatsExtractor, acoustic_stats, short_term_features
from tests.fixtures import CountingExtractor, wav_table

WINDOW, HOP = 400, 160  # 25 ms and 10 ms at 16 kHz


def _speechlike(n_samples, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / 16_000
    return (0.3 * np.sin(2 * np.pi * 180 * t) + 0.05 * rng.standard_normal(n_samples) + 0.02).astype(np.float32)


def _frames_as_pyaudioanalysis_sees_them(audio):
    """DC removed, peak-normalised (pyAudioAnalysis' own preprocessing), cut into full windows."""
    signal = audio.astype(np.float64) - audio.mean()
    signal /= np.abs(signal).max()
    starts = range(0, len(signal) - WINDOW + 1, HOP)
    return np.stack([signal[s:s + WINDOW] for s in starts])


def test_zero_crossing_rate_and_energy_match_numpy_on_the_same_frames():
    audio = _speechlike(2_100)  # 11 full frames, the last 100 samples unused
    frames = _frames_as_pyaudioanalysis_sees_them(audio)
    assert short_term_features(audio).shape == (len(frames), 34) == (11, 34)
    zcr = (np.abs(np.diff(np.sign(frames), axis=1)).sum(axis=1) / 2) / (WINDOW - 1)
    energy = (frames**2).mean(axis=1)
    stats = acoustic_stats(audio)
    assert stats.shape == (68,) and stats.dtype == np.float32
    np.testing.assert_allclose(stats[[0, 1]], [zcr.mean(), energy.mean()], rtol=1e-5)
    np.testing.assert_allclose(stats[[34, 35]], [zcr.std(), energy.std()], rtol=1e-4)


def test_gain_does_not_change_the_features():
    audio = _speechlike(1_600)
    np.testing.assert_allclose(acoustic_stats(0.01 * audio), acoustic_stats(audio), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("audio", [np.zeros(8_000, np.float32), np.zeros(1, np.float32), _speechlike(100)],
                         ids=["silence", "one-sample", "shorter-than-a-window"])
def test_silent_and_very_short_audio_give_finite_values(audio):
    stats = acoustic_stats(audio)
    assert stats.shape == (68,) and np.isfinite(stats).all()
    if len(audio) < WINDOW:
        assert np.all(stats[34:] == 0)  # a single padded frame has no spread


def test_extract_caches_and_a_second_run_computes_nothing(tmp_path):
    table = wav_table(tmp_path, [0.05, 0.1, 0.15], text="")
    cache, calls = FeatureCache(tmp_path / "cache"), []
    cold = extract(table, CountingExtractor(AcousticStatsExtractor(), calls), cache, progress=False)
    warm = extract(table, CountingExtractor(AcousticStatsExtractor(), calls), cache, progress=False)
    assert calls == [3]
    assert all(cold[u].shape == (68,) and np.array_equal(cold[u], warm[u]) for u in cold)
