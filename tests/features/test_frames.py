"""Waveform frames and aligned word vectors on the 0.1 s grid of Tzirakis et al."""

import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from sertext.data import load_corpus
from sertext.data.alignment import parse_segments
from sertext.features import FeatureCache, extract
from sertext.features.frames import AlignedWordsExtractor, WaveformFramesExtractor, word_frames

# Sphinx word alignment at 10 ms frames, inclusive end frames (docs/datasets.md §1).
WDSEG = """ SFrm  EFrm    SegAScr Word
    0    14     -60000 <s>
   15    34     -80000 THE(2)
   35    39     -20000 <sil>
   40    42     -12000 A
   43    79    -150000 ++LAUGHTER++
   80    99     -80000 CAT
  100   129     -90000 </s>
 Total score: -492000
"""


EXPECTED = [0, 1, 1, 0, 3, 3, 3, 3, 4, 4, 0, 0, 0]  # vocabulary index + 1 of each frame's word


class FakeVectors:
    """A word-vector source: a word's vector repeats its 1-based index in VOCABULARY, or 10 + its
    length for any other word (never zero)."""

    VOCABULARY = ("the", "a", "laughter", "cat")
    dim = 3

    def __init__(self, name: str = "fake") -> None:
        self.name = name
        self.asked: list[str] = []

    def vectors(self, words: list[str]) -> np.ndarray:
        self.asked += words
        index = [self.VOCABULARY.index(w) + 1 if w in self.VOCABULARY else 10 + len(w) for w in words]
        return np.repeat(np.asarray(index, dtype=np.float32)[:, None], self.dim, axis=1)

    def settings(self) -> dict:
        return {"name": self.name}


def _utterance(root, utt_id: str, seconds: float, wdseg: str | None, sample_rate_hz: int = 16_000):
    """An utterance in the IEMOCAP layout: a wav tone and (unless None) its ``.wdseg``."""
    dialog = utt_id.rsplit("_", 1)[0]
    wav = root / "Session1" / "sentences" / "wav" / dialog / f"{utt_id}.wav"
    wav.parent.mkdir(parents=True)
    t = np.arange(round(seconds * sample_rate_hz)) / sample_rate_hz
    sf.write(wav, 0.3 * np.sin(2 * np.pi * 300 * t), sample_rate_hz, subtype="PCM_16")
    if wdseg is not None:
        alignment = root / "Session1" / "sentences" / "ForcedAlignment" / dialog / f"{utt_id}.wdseg"
        alignment.parent.mkdir(parents=True)
        alignment.write_text(wdseg)
    return wav


def _table(*wavs):
    return pd.DataFrame({"utt_id": [w.stem for w in wavs], "path": [str(w) for w in wavs]})


def test_each_frame_gets_the_word_at_its_midpoint():
    out = word_frames(parse_segments(WDSEG), FakeVectors(), 13)
    # Frame k's midpoint is (k + 0.5) · 0.1 s.  THE [0.15, 0.35) → frames 1, 2; <sil> [0.35, 0.40) → 3;
    # A [0.40, 0.43) holds no midpoint; LAUGHTER [0.43, 0.80) → 4–7; CAT [0.80, 1.00) → 8, 9; </s> → 10–12.
    assert out.shape == (13, 3) and out.dtype == np.float32
    assert out[:, 0].tolist() == EXPECTED
    assert (out == out[:, :1]).all()


def test_words_are_cleaned_and_cut_at_the_last_frame():
    vectors = FakeVectors()
    out = word_frames(parse_segments(WDSEG), vectors, 5)
    assert vectors.asked == ["the", "a", "laughter", "cat"]
    assert out[:, 0].tolist() == EXPECTED[:5]
    assert not word_frames(parse_segments(WDSEG.replace("THE(2)", "<sil>")), vectors, 3).any()


def test_waveform_frames_are_the_resampled_signal_zero_padded(tmp_path):
    wav = _utterance(tmp_path, "Ses01F_impro01_F000", 0.5037, None)
    extractor = WaveformFramesExtractor()
    [frames] = extractor.compute(list(_table(wav).itertuples()), [wav.read_bytes()])
    samples, rate = sf.read(wav, dtype="float32")
    reference = resample_poly(samples, 441, 320)  # 16 kHz → 22,050 Hz
    assert rate == 16_000 and len(reference) == 11_107
    assert frames.shape == (6, 2205) and frames.dtype == np.float32
    assert np.allclose(frames.reshape(-1)[:11_107], reference, atol=1e-6)
    assert not frames.reshape(-1)[11_107:].any()


def test_frame_settings_are_validated():
    assert WaveformFramesExtractor(sample_rate_hz=16_000, frame_s=0.05).settings()["frame_samples"] == 800
    with pytest.raises(ValueError, match="whole number of samples"):
        WaveformFramesExtractor(frame_s=0.1234)


@pytest.mark.parametrize(("sample_rate_hz", "seconds", "n_frames"), [(16_000, 1.23, 13), (44_100, 1.2, 12)])
def test_hand_written_alignment_through_the_cache(tmp_path, sample_rate_hz, seconds, n_frames):
    wav = _utterance(tmp_path / "corpus", "Ses01F_impro01_F000", seconds, WDSEG, sample_rate_hz)
    cache = FeatureCache(tmp_path / "cache")
    words = extract(_table(wav), AlignedWordsExtractor(FakeVectors()), cache, progress=False)
    frames = extract(_table(wav), WaveformFramesExtractor(), cache, progress=False)
    assert words[wav.stem].shape == (n_frames, 3) and frames[wav.stem].shape == (n_frames, 2205)
    assert words[wav.stem][:, 0].tolist() == EXPECTED[:n_frames]
    other = AlignedWordsExtractor(FakeVectors("other"))
    assert other.settings() != AlignedWordsExtractor(FakeVectors()).settings()


def test_demo_corpus_words_and_waveform_share_the_grid(tiny_demo_root, tmp_path):
    table = load_corpus("iemocap", tiny_demo_root).head(8)
    cache = FeatureCache(tmp_path / "cache")
    vectors = FakeVectors()
    words = extract(table, AlignedWordsExtractor(vectors), cache, progress=False)
    frames = extract(table, WaveformFramesExtractor(), cache, progress=False)
    for utt_id in table["utt_id"]:
        assert words[utt_id].shape[0] == frames[utt_id].shape[0] > 0
        assert words[utt_id].any() and not words[utt_id][0].any()  # words, after the leading <s>
    assert vectors.asked and all(w == w.lower() and w.replace("'", "").isalnum() for w in vectors.asked)


def test_missing_alignment_gives_zeros_and_warns_on_every_extraction(tiny_demo_root, tmp_path):
    source = load_corpus("iemocap", tiny_demo_root)["path"].iloc[0]
    wav = tmp_path / "corpus" / "Session1" / "sentences" / "wav" / "Ses01F_impro01" / "Ses01F_impro01_F000.wav"
    wav.parent.mkdir(parents=True)
    shutil.copy(source, wav)
    extractor = AlignedWordsExtractor(FakeVectors())
    cache = FeatureCache(tmp_path / "cache")
    for _ in range(2):  # computed, then from the cache: both warn
        with pytest.warns(UserWarning, match=r"ForcedAlignment/Ses01F_impro01/Ses01F_impro01_F000\.wdseg"):
            out = extract(_table(wav), extractor, cache, progress=False)[wav.stem]
    expected_frames = -(-sf.info(str(wav)).frames // 1600)
    assert out.shape == (expected_frames, 3) and not out.any()
    assert [p.endswith("Ses01F_impro01_F000.wdseg") for p in extractor.missing_alignments] == [True]
    aligned = _utterance(tmp_path / "b", "Ses01F_impro02_F000", 0.3, WDSEG)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an utterance with its alignment does not warn
        extract(_table(aligned), extractor, cache, progress=False)
    assert len(extractor.missing_alignments) == 1
