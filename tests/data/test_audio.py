"""Reading wavs: conversions and clear errors."""

import numpy as np
import pytest
import soundfile as sf

from sertext.data import AudioError, read_wav
from tests.fixtures import write_wav


def test_reads_mono_16k_float(tmp_path):
    write_wav(tmp_path / "a.wav", seconds=0.5)
    audio = read_wav(tmp_path / "a.wav")
    assert audio.dtype == np.float32 and audio.shape == (8000,)
    assert np.abs(audio).max() == pytest.approx(0.1, abs=1e-3)


def test_stereo_and_other_rates_are_converted(tmp_path):
    write_wav(tmp_path / "b.wav", seconds=0.5, sample_rate_hz=8000, channels=2)
    audio = read_wav(tmp_path / "b.wav")
    assert audio.shape == (8000,)


@pytest.mark.parametrize("content, message", [
    (b"not a wav", "cannot read wav"),
    (None, "has no samples"),
    ("nan", "NaN or infinite"),
])
def test_bad_wavs_name_the_file(tmp_path, content, message):
    path = tmp_path / "bad.wav"
    if content is None:
        sf.write(path, np.zeros(0), 16000)
    elif content == "nan":
        sf.write(path, np.array([0.0, np.nan]), 16000, subtype="FLOAT")
    else:
        path.write_bytes(content)
    with pytest.raises(AudioError) as error:
        read_wav(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="missing.wav"):
        read_wav(tmp_path / "missing.wav")
