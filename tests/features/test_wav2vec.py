"""wav2vec 2.0 states: frame alignment with the AutoVC mel, HF normalisation, cache identity."""


import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

from sertext.features import FeatureCache, extract
from sertext.features.autovc_mel import autovc_mel
from sertext.features.wav2vec import Wav2Vec2Extractor, conv_geometry, wav2vec_padding
from tests.fixtures import CountingExtractor, write_tiny_wav2vec


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return write_tiny_wav2vec(tmp_path_factory.mktemp("w2v") / "tiny")


def _table(folder, lengths):
    rng = np.random.default_rng(0)
    paths = []
    for i, n in enumerate(lengths):
        paths.append(folder / f"u{i}.wav")
        sf.write(paths[-1], 0.1 * rng.standard_normal(n) + 0.05, 16000, subtype="PCM_16")
    return pd.DataFrame({"utt_id": [f"u{i}" for i in range(len(lengths))], "path": [str(p) for p in paths]})


def test_padding_rule():
    assert [wav2vec_padding(n) for n in (320, 399, 400, 639, 50)] == [319, 319, 160, 160, 319]
    assert conv_geometry(Wav2Vec2Config()) == (320, 400)


def test_frames_equal_mel_frames_and_states_match_hugging_face(tmp_path, tiny_model):
    lengths = [16000, 16079, 16080, 8000 + 319, 1000]  # len % 320: 0 and 79 (pad 319), 80, 319, 40
    table = _table(tmp_path, lengths)
    states = extract(table, Wav2Vec2Extractor(tiny_model, device="cpu"), FeatureCache(tmp_path / "c"), progress=False)
    model = Wav2Vec2Model.from_pretrained(tiny_model).eval()
    processor = Wav2Vec2FeatureExtractor.from_pretrained(tiny_model)
    for utt_id, path in zip(table.utt_id, table.path, strict=True):
        audio, _ = sf.read(path, dtype="float32")
        assert states[utt_id].dtype == np.float16
        assert states[utt_id].shape == (3, autovc_mel(audio).shape[0], 32)
        values = processor(np.pad(audio, wav2vec_padding(len(audio))), sampling_rate=16000,
                           return_tensors="pt").input_values
        with torch.no_grad():
            expected = torch.cat(model(values, output_hidden_states=True).hidden_states).numpy()
        assert np.allclose(states[utt_id], expected, atol=2e-2, rtol=1e-2)  # float16 storage


def test_second_extraction_reads_the_cache_and_the_model_is_part_of_the_key(tmp_path, tiny_model):
    table = _table(tmp_path, [4000, 5000])
    cache, calls = FeatureCache(tmp_path / "c"), []
    cold = extract(table, CountingExtractor(Wav2Vec2Extractor(tiny_model, device="cpu"), calls), cache, progress=False)
    warm = extract(table, CountingExtractor(Wav2Vec2Extractor(tiny_model, device="cpu"), calls), cache, progress=False)
    assert sum(calls) == 2 and all(np.array_equal(cold[u], warm[u]) for u in cold)
    other = write_tiny_wav2vec(tmp_path / "other", hidden_size=48)
    extract(table, CountingExtractor(Wav2Vec2Extractor(other, device="cpu"), calls), cache, progress=False)
    assert sum(calls) == 4
    assert Wav2Vec2Extractor(other).settings()["config_sha256"] != Wav2Vec2Extractor(tiny_model).settings()[
        "config_sha256"]


def test_normalisation_follows_the_preprocessor_config(tmp_path):
    off = Wav2Vec2Extractor(write_tiny_wav2vec(tmp_path / "off", do_normalize=False)).settings()
    missing = Wav2Vec2Extractor(write_tiny_wav2vec(tmp_path / "missing", do_normalize=None)).settings()
    assert (off["normalize"], missing["normalize"]) == (False, True)


def test_a_model_with_another_stride_is_refused(tmp_path):
    folder = write_tiny_wav2vec(tmp_path / "fast", conv_stride=(5, 2, 2, 2, 2, 2, 1))
    with pytest.raises(ValueError, match="stride"):
        Wav2Vec2Extractor(folder).settings()
