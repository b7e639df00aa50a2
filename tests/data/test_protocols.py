"""Evaluation protocols: fold structure and speaker independence."""

import pandas as pd
import pytest

from sertext.data import four_class, load_corpus, make_folds


@pytest.fixture
def iemocap(iemocap_root):
    return load_corpus("iemocap", iemocap_root)


def _speakers(table, ids):
    return set(table.set_index("utt_id").loc[ids, "speaker"])


def _sessions(table, ids):
    return set(table.set_index("utt_id").loc[ids, "session"])


def test_loso_has_ten_speaker_folds(iemocap):
    folds = make_folds(iemocap, "iemocap-loso")
    assert [f.name for f in folds] == [f"Ses0{s}{g}" for s in range(1, 6) for g in "FM"]
    for fold in folds:
        session, gender = int(fold.name[4]), fold.name[5]
        other = "M" if gender == "F" else "F"
        assert _speakers(iemocap, fold.test) == {fold.name}
        assert _speakers(iemocap, fold.dev) == {f"Ses0{session}{other}"}
        assert session not in _sessions(iemocap, fold.train)
        assert len(_sessions(iemocap, fold.train)) == 4
        assert len(fold.train) + len(fold.dev) + len(fold.test) == len(iemocap)


def test_loso_on_four_class_table_uses_only_its_rows(iemocap):
    kept = four_class(iemocap)
    for fold in make_folds(kept, "iemocap-loso"):
        assert set(fold.train + fold.dev + fold.test) == set(kept["utt_id"])


def test_loso_session_has_five_folds_with_hashed_dev(iemocap):
    folds = make_folds(iemocap, "iemocap-loso-session", dev_fraction=0.3)
    assert [f.name for f in folds] == [f"Session{s}" for s in range(1, 6)]
    for s, fold in enumerate(folds, start=1):
        assert _sessions(iemocap, fold.test) == {s}
        assert s not in _sessions(iemocap, fold.train + fold.dev)
        assert not set(fold.train) & set(fold.dev)
        assert _speakers(iemocap, fold.train).isdisjoint(_speakers(iemocap, fold.test))
    # The dev choice depends on the utterance id only, not on the table's order.
    shuffled = iemocap.sample(frac=1, random_state=1)
    again = make_folds(shuffled, "iemocap-loso-session", dev_fraction=0.3)
    assert [set(f.dev) for f in again] == [set(f.dev) for f in folds]


def test_holdout_tests_on_session_five(iemocap):
    (fold,) = make_folds(iemocap, "iemocap-holdout")
    assert _sessions(iemocap, fold.test) == {5}
    assert _sessions(iemocap, fold.train + fold.dev) == {1, 2, 3, 4}


def test_msp_official_splits(msp_root):
    table = load_corpus("msp-podcast", msp_root)
    (fold,) = make_folds(table, "msp-official")
    assert len(fold.train) == 3 and len(fold.dev) == 2 and len(fold.test) == 2


def test_folds_sharing_a_speaker_are_refused():
    table = pd.DataFrame({
        "utt_id": ["a", "b", "c"], "speaker": ["s1", "s1", "s2"],
        "split": ["Train", "Test1", "Development"],
    })
    with pytest.raises(ValueError, match="shares speakers"):
        make_folds(table, "msp-official")


def test_unknown_protocol(iemocap):
    with pytest.raises(ValueError, match="unknown protocol"):
        make_folds(iemocap, "iemocap-random")


def test_across_corpora_msp_podcast_is_tested_on_test1_and_iemocap_whole(msp_root, iemocap):
    from sertext.data import cross_corpus_set, load_corpus

    msp = load_corpus("msp-podcast", msp_root)
    assert cross_corpus_set(msp, "msp-podcast") == ["MSP-PODCAST_0001_0008", "MSP-PODCAST_0001_0009"]
    assert cross_corpus_set(iemocap, "iemocap") == list(iemocap["utt_id"])
    with pytest.raises(ValueError, match="Test1 split is empty"):
        cross_corpus_set(msp[msp["split"] != "Test1"], "msp-podcast")


@pytest.mark.parametrize("protocol", ["iemocap-loso-session", "iemocap-holdout"])
def test_dev_fraction_zero_holds_no_dev_out_and_trains_on_every_training_session_utterance(iemocap, protocol):
    """Makiuchi et al.'s folds: no dev set, all four training sessions train; the test set as before."""
    held_out = make_folds(iemocap, protocol, dev_fraction=0.5)  # the small fixture: some dev in every fold
    for held, none in zip(held_out, make_folds(iemocap, protocol, dev_fraction=0), strict=True):
        assert held.dev and none.dev == []
        assert none.train == [u for u in iemocap["utt_id"] if u in set(held.train + held.dev)]  # table order
        assert (none.name, none.test) == (held.name, held.test)
        assert _sessions(iemocap, none.train) == _sessions(iemocap, held.train + held.dev)


def test_dev_fraction_leaves_protocols_with_a_natural_dev_set_as_they_were(iemocap, msp_root):
    assert make_folds(iemocap, "iemocap-loso", dev_fraction=0) == make_folds(iemocap, "iemocap-loso")
    msp = load_corpus("msp-podcast", msp_root)
    assert make_folds(msp, "msp-official", dev_fraction=0) == make_folds(msp, "msp-official")


@pytest.mark.parametrize("fraction", [-0.1, 1.0])
def test_dev_fraction_outside_zero_to_one_is_refused(iemocap, fraction):
    with pytest.raises(ValueError, match=r"dev_fraction must be in \[0, 1\)"):
        make_folds(iemocap, "iemocap-loso-session", dev_fraction=fraction)
