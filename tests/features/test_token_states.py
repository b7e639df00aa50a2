"""Token states from the offline MiniLM: the paper's (no special tokens, the default), with [CLS]/[SEP],
and the public code's first/last-position quirk."""


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
    """Hidden states of one text padded to 122, computed without sertext (MiniLM's tokenizer is uncased)."""
    tokenizer, model = load_text_model()
    model.eval()

    def run(text):
        batch = tokenizer(text, padding="max_length", max_length=122, return_tensors="pt")
        with torch.no_grad():
            return model(**batch).last_hidden_state[0].numpy(), int(batch["attention_mask"].sum())
    return run


def _table():
    return pd.DataFrame({"utt_id": [f"u{i}" for i in range(len(TEXTS))], "text": TEXTS})


def test_default_is_the_papers_reading_real_tokens_without_cls_and_sep(tmp_path, direct):
    """Makiuchi et al. §3.2: N is the number of tokens excluding special tokens."""
    cache, calls = FeatureCache(tmp_path / "c"), []
    states = extract(_table(), CountingExtractor(TokenStatesExtractor(), calls), cache, progress=False)
    warm = extract(_table(), CountingExtractor(TokenStatesExtractor(), calls), cache, progress=False)
    assert sum(calls) == len(TEXTS)
    for i, text in enumerate(TEXTS):
        ours = states[f"u{i}"]
        assert np.array_equal(ours, warm[f"u{i}"])
        expected, n_real = direct(text)
        assert ours.shape == (122, 384) and ours.dtype == np.float32
        assert np.allclose(ours[:n_real - 2], expected[1:n_real - 1], atol=1e-4)  # the tokens, from row 0
        assert not ours[n_real - 2:].any()  # no [SEP], no PAD


def test_first_and_last_positions_dropped_sep_and_pad_states_kept(tmp_path, direct):
    states = extract(_table(), TokenStatesExtractor(positions="drop_first_last"), FeatureCache(tmp_path),
                     progress=False)
    for i, text in enumerate(TEXTS):
        ours = states[f"u{i}"]
        expected, n_real = direct(text)
        assert ours.shape == (122, 384) and ours.dtype == np.float32
        assert np.allclose(ours[:120], expected[1:121], atol=1e-4)  # batched with padding: same numbers
        assert not ours[120:].any()
        assert np.allclose(ours[n_real - 2], expected[n_real - 1], atol=1e-4)  # [SEP] stays
        assert np.abs(ours[n_real - 1]).sum() > 1.0  # a PAD position's non-zero state stays


def test_with_special_keeps_cls_and_sep_and_the_real_tokens(tmp_path, direct):
    states = extract(_table(), TokenStatesExtractor(positions="with_special"), FeatureCache(tmp_path),
                     progress=False)
    for i, text in enumerate(TEXTS):
        expected, n_real = direct(text)
        assert np.allclose(states[f"u{i}"][:n_real], expected[:n_real], atol=1e-4)
        assert not states[f"u{i}"][n_real:].any()


def test_each_reading_has_its_own_cache_entry_and_the_trial_config_chooses_it():
    from sertext.config import TrialConfig
    from sertext.features.extractors import feature_extractors

    settings = {p: TokenStatesExtractor(positions=p).settings()["positions"]
                for p in ("tokens", "with_special", "drop_first_last")}
    assert len(set(settings.values())) == 3
    for positions in settings:
        config = TrialConfig.from_dict({"model.arch": "textcnn", "model.token_positions": positions})
        assert feature_extractors(config)["token_states"].positions == positions
    assert feature_extractors(TrialConfig.from_dict({"model.arch": "textcnn"}))["token_states"].positions == "tokens"
    with pytest.raises(ValueError, match="positions must be one of"):
        TokenStatesExtractor(positions="all")


def test_a_cased_model_sees_the_transcripts_case(tmp_path):
    """Makiuchi et al.'s Table 4 compares cased and uncased transformers: a cased one must not be fed
    lower-cased text (the public code lower-cases every transcript)."""
    from transformers import BertConfig, BertModel, BertTokenizer

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "Hello", "."]) + "\n")
    folder = tmp_path / "tiny-cased"
    BertTokenizer(str(vocab), do_lower_case=False).save_pretrained(folder)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=8, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=16)).save_pretrained(folder)
    table = pd.DataFrame({"utt_id": ["upper", "lower"], "text": ["Hello.", "hello."]})
    states = extract(table, TokenStatesExtractor(str(folder), max_tokens=8), FeatureCache(tmp_path / "c"),
                     progress=False)
    assert not np.allclose(states["upper"], states["lower"])
