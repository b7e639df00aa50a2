"""Features read from the cache when used: verified once, memory-mapped after, recomputed when lost;
speaker standardisation in one streaming pass."""

import numpy as np
import pandas as pd

from sertext.features import FeatureCache, LogMelExtractor, extract
from sertext.features.lazy import SpeakerStandardised
from tests.fixtures import CountingExtractor, wav_table


def test_a_mapped_entry_equals_the_stored_array_in_every_layout(tmp_path):
    cache = FeatureCache(tmp_path)
    arrays = {"c": np.arange(24, dtype=np.float16).reshape(2, 3, 4), "f": np.asfortranarray(np.ones((3, 5))),
              "empty": np.zeros((0, 64), np.float32), "ints": np.arange(7)}
    for key, array in arrays.items():
        cache.store("x", key, array)
        mapped = cache.map("x", key, array.shape, array.dtype)
        assert mapped.dtype == array.dtype and np.array_equal(mapped, array)
    mapped = cache.map("x", "c", (2, 3, 4), np.float16)
    assert not mapped.flags.owndata and not mapped.flags.writeable
    assert cache.map("x", "absent", (3,), np.float32) is None
    assert cache.map("x", "ints", (10**6,), np.int64) is None  # no longer the size verified: not mapped


def test_extraction_holds_no_arrays_and_reads_each_entry_when_used(tmp_path):
    table = wav_table(tmp_path, [0.3, 0.4, 0.5], text="")
    cache = FeatureCache(tmp_path / "cache")
    features = extract(table, LogMelExtractor(), cache, progress=False)
    assert not any(isinstance(v, np.ndarray) for v in vars(features).values())
    first = features["u1"]  # read whole and verified
    again = features["u1"]  # memory-mapped from then on
    assert first.flags.writeable and not again.flags.writeable  # then a read-only map of the file
    assert np.array_equal(first, again) and list(features) == table["utt_id"].tolist() and len(features) == 3


def test_an_entry_lost_or_damaged_after_extraction_is_recomputed_on_access(tmp_path):
    table = wav_table(tmp_path, [0.3, 0.4], text="")
    cache, calls = FeatureCache(tmp_path / "cache"), []
    features = extract(table, CountingExtractor(LogMelExtractor(), calls), cache, progress=False)
    expected = {u: np.array(features[u]) for u in features}
    assert calls == [2]
    paths = sorted(p for p in (tmp_path / "cache").rglob("*.npy"))
    paths[0].unlink()
    damaged = bytearray(paths[1].read_bytes())
    damaged[-2] ^= 0xFF
    paths[1].write_bytes(bytes(damaged))
    fresh = extract(table, CountingExtractor(LogMelExtractor(), calls), cache, progress=False)  # the deleted one
    assert calls == [2, 1]
    assert all(np.array_equal(fresh[u], expected[u]) for u in expected)  # the damaged one recomputed on access
    assert calls == [2, 1, 1] and len(list((tmp_path / "cache").rglob("*.npy"))) == 2


def test_speaker_standardisation_matches_numpy_over_all_frames_of_each_speaker():
    rng = np.random.default_rng(0)
    mels = {f"u{i}": rng.normal(5 * i, 2 + i, size=(30 + i, 4)).astype(np.float32) for i in range(5)}
    speakers = pd.Series(["a", "a", "b", None, "a"], index=list(mels))
    out = SpeakerStandardised(mels, speakers)
    speaker_a = np.concatenate([mels["u0"], mels["u1"], mels["u4"]]).astype(np.float64)
    mean, std = speaker_a.mean(axis=0), speaker_a.std(axis=0) + 1e-5
    assert np.allclose(out["u1"], (mels["u1"] - mean) / std, atol=1e-5)
    standardised = np.concatenate([out["u0"], out["u1"], out["u4"]])
    assert np.allclose(standardised.mean(axis=0), 0, atol=1e-5) and np.allclose(standardised.std(axis=0), 1, atol=1e-4)
    assert np.allclose(out["u3"].mean(axis=0), 0, atol=1e-5)  # no speaker: standardised alone
    assert out["u2"].dtype == np.float32 and list(out) == list(mels)
