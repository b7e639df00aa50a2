"""Speaker embeddings: Resemblyzer per utterance (checked against the package), means per speaker."""


import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import sertext.data as data
from sertext.features import FeatureCache, extract
from sertext.features.speaker import SpeakerEmbeddingExtractor, speaker_embeddings
from tests.fixtures import CountingExtractor


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # audioread, imported by librosa.load
def test_demo_embeddings_match_resemblyzer_and_are_cached(tiny_demo_root, tmp_path):
    corpus = data.load_corpus("iemocap", tiny_demo_root)
    table = corpus[corpus.speaker == "Ses01M"].head(2)
    cache, calls = FeatureCache(tmp_path / "c"), []
    cold = extract(table, CountingExtractor(SpeakerEmbeddingExtractor(), calls), cache, progress=False)
    warm = extract(table, CountingExtractor(SpeakerEmbeddingExtractor(), calls), cache, progress=False)
    assert sum(calls) == len(table)
    from resemblyzer import VoiceEncoder, preprocess_wav

    encoder = VoiceEncoder("cpu", verbose=False)
    for row in table.itertuples():
        assert np.array_equal(cold[row.utt_id], warm[row.utt_id])
        expected = encoder.embed_utterance(preprocess_wav(row.path))  # the package's own file reader
        assert cold[row.utt_id].shape == (256,) and cold[row.utt_id].dtype == np.float32
        assert np.allclose(cold[row.utt_id], expected, atol=1e-4)


def test_too_short_for_vad_falls_back_to_untrimmed_audio_and_silence_to_nan(tmp_path):
    rng = np.random.default_rng(0)
    # shorter than one 30 ms VAD window: trimming leaves nothing
    sf.write(tmp_path / "noise.wav", 0.3 * rng.standard_normal(300), 16000, subtype="PCM_16")
    sf.write(tmp_path / "silence.wav", np.zeros(8000), 16000, subtype="PCM_16")
    table = pd.DataFrame({"utt_id": ["noise", "silence"], "path": [str(tmp_path / f"{u}.wav") for u in
                                                                   ("noise", "silence")]})
    with pytest.warns(UserWarning, match=r"1 found no speech.*'noise'.*1 are silent.*'silence'"):
        embeddings = extract(table, SpeakerEmbeddingExtractor(), FeatureCache(tmp_path / "c"), progress=False)
    assert np.isfinite(embeddings["noise"]).all() and np.isclose(np.linalg.norm(embeddings["noise"]), 1.0)
    assert np.isnan(embeddings["silence"]).all()


def _synthetic(n_a=3, n_b=150):
    """Speaker A: 3 utterances, B: 150; utterance i's embedding is the i-th unit vector (B: i mod 256)."""
    ids = [f"a{i}" for i in range(n_a)] + [f"b{i}" for i in range(n_b)]
    table = pd.DataFrame({"utt_id": ids, "speaker": ["A"] * n_a + ["B"] * n_b})
    eye = np.eye(256, dtype=np.float32)
    return table, {u: eye[i % 256] for i, u in enumerate(ids)}


def test_speaker_mean_over_at_most_100_seeded_utterances_not_renormalised():
    table, per_utterance = _synthetic()
    means = speaker_embeddings(table, per_utterance)
    assert set(means) == {"A", "B"}
    assert np.allclose(means["A"][:3], 1 / 3) and np.isclose(np.linalg.norm(means["A"]), 1 / np.sqrt(3))
    chosen = np.flatnonzero(means["B"])
    assert len(chosen) == 100 and np.allclose(means["B"][chosen], 0.01)  # 100 distinct utterances
    assert np.array_equal(speaker_embeddings(table, per_utterance)["B"], means["B"])
    assert not np.array_equal(speaker_embeddings(table, per_utterance, seed=1)["B"], means["B"])
    alone = table[table.speaker == "B"]  # another speaker's presence does not change B's draw
    assert np.array_equal(speaker_embeddings(alone, per_utterance)["B"], means["B"])


def test_unusable_and_missing_embeddings():
    table, per_utterance = _synthetic(n_b=2)
    per_utterance["a0"] = np.full(256, np.nan, dtype=np.float32)
    with pytest.warns(UserWarning, match=r"1 utterances .* \['a0'\]"):
        means = speaker_embeddings(table, per_utterance)
    assert np.allclose(means["A"][1:3], 0.5)
    del per_utterance["b1"]
    with pytest.raises(ValueError, match="no embedding"):
        speaker_embeddings(table, per_utterance)
