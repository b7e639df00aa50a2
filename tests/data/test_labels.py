"""Four-class label scheme."""

import pandas as pd
import pytest

from sertext.data import FOUR_CLASSES, four_class, load_corpus


def test_four_class_on_iemocap_fixture_merges_excited(iemocap_root):
    table = load_corpus("iemocap", iemocap_root)
    kept = four_class(table)
    # neu 4, hap 3 + exc 2, sad 4, ang 3; fru and xxx are dropped.
    assert kept["label"].value_counts().to_dict() == {"happy": 5, "neutral": 4, "sad": 4, "angry": 3}
    assert set(kept["label"]) == set(FOUR_CLASSES)
    assert kept.set_index("utt_id").loc["Ses01F_script01_2_F000", "label"] == "happy"  # exc
    assert not kept["emotion"].isin(["fru", "xxx"]).any()
    assert "label" not in table.columns  # the input table is not modified


def test_without_merge_excited_drops_exc(iemocap_root):
    kept = four_class(load_corpus("iemocap", iemocap_root), merge_excited=False)
    assert "exc" not in set(kept["emotion"])
    assert (kept["label"] == "happy").sum() == 3


def test_four_class_on_msp_codes(msp_root):
    kept = four_class(load_corpus("msp-podcast", msp_root))
    assert kept.set_index("utt_id")["label"].to_dict() == {
        "MSP-PODCAST_0001_0008": "neutral", "MSP-PODCAST_0001_0009": "neutral",
        "MSP-PODCAST_0002_0001": "angry", "MSP-PODCAST_0002_0002": "happy",
        "MSP-PODCAST_0003_0001": "sad", "MSP-PODCAST_0004_0002": "neutral",
    }


def test_unknown_corpus_is_refused():
    with pytest.raises(ValueError, match="no four-class mapping"):
        four_class(pd.DataFrame({"corpus": ["ravdess"], "emotion": ["angry"]}))
