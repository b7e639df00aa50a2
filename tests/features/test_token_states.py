"""Token states with the public code's first/last-position quirk, from the offline MiniLM."""


import numpy as np
import pandas as pd
import pytest
import torch

from sertext.features import FeatureCache, extract
from sertext.features.text import load_text_model
from sertext.features.token_states import TokenStatesExtractor
from tests.fixtures import CountingExtractor

TEXTS = ["Hello there.", "I CAN'T believe you did that to me, it is awful.", "[LAUGHTER]"]


@pytest.fixture(scope="module")
def direct():
    """Hidden states of one lower-cased text padded to 122, computed without sertext."""
    tokenizer, model = load_text_model()
    model.eval()

    def run(text):
        batch = tokenizer(text.lower(), padding="max_length", max_length=122, return_tensors="pt")
        with torch.no_grad():
            return model(**batch).last_hidden_state[0].numpy(), int(batch["attention_mask"].sum())
    return run


def _table():
    return pd.DataFrame({"utt_id": [f"u{i}" for i in range(len(TEXTS))], "text": TEXTS})


def test_first_and_last_positions_dropped_sep_and_pad_states_kept(tmp_path, direct):
    cache, calls = FeatureCache(tmp_path / "c"), []
    states = extract(_table(), CountingExtractor(TokenStatesExtractor(), calls), cache, progress=False)
    warm = extract(_table(), CountingExtractor(TokenStatesExtractor(), calls), cache, progress=False)
    assert sum(calls) == len(TEXTS)
    for i, text in enumerate(TEXTS):
        ours = states[f"u{i}"]
        assert np.array_equal(ours, warm[f"u{i}"])
        expected, n_real = direct(text)
        assert ours.shape == (122, 384) and ours.dtype == np.float32
        assert np.allclose(ours[:120], expected[1:121], atol=1e-4)  # batched with padding: same numbers
        assert not ours[120:].any()
        assert np.allclose(ours[n_real - 2], expected[n_real - 1], atol=1e-4)  # [SEP] stays
        assert np.abs(ours[n_real - 1]).sum() > 1.0  # a PAD position's non-zero state stays


def test_plain_reading_keeps_real_tokens_only(tmp_path, direct):
    states = extract(_table(), TokenStatesExtractor(drop_first_last=False), FeatureCache(tmp_path), progress=False)
    for i, text in enumerate(TEXTS):
        expected, n_real = direct(text)
        assert np.allclose(states[f"u{i}"][:n_real], expected[:n_real], atol=1e-4)
        assert not states[f"u{i}"][n_real:].any()
