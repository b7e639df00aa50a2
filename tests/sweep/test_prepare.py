"""Before any trial: the corpus and its folds, and every feature of every trial extracted once."""

import pytest

from sertext.sweep import SweepConfig, expand
from sertext.sweep.definition import feature_trials
from sertext.sweep.prepare import Corpus, precompute_features, resolve_corpus


def entries(cache, kind):
    return sorted(p.stem for p in (cache / kind).rglob("*.npy"))


def test_the_corpus_and_its_folds_resolve_from_the_definition(iemocap_root):
    corpus = resolve_corpus(SweepConfig(name="s", root=str(iemocap_root)), progress=False)
    assert corpus.root == str(iemocap_root.resolve()) and corpus.dialogue_acts is None
    assert corpus.folds == tuple(f"Ses0{s}{g}" for s in range(1, 6) for g in "FM")
    chosen = resolve_corpus(SweepConfig(name="s", root=str(iemocap_root), folds=("Ses02M",)), progress=False)
    assert chosen.folds == ("Ses02M",)


@pytest.mark.slow
def test_a_grid_over_a_feature_setting_precomputes_every_variant(iemocap_root, tmp_path):
    """Text embeddings at two token limits (a grid axis) and two pooling settings (a variant): four
    extractor settings, each for every utterance the trials read, before any trial starts."""
    sweep = SweepConfig(name="s", root=str(iemocap_root), archs=("sfcnn14", "cnn14"), seeds=(0, 1),
                        grid={"model.max_tokens": [8, 16], "train.lr": [0.1, 0.01]},
                        variants=({"model.include_special_tokens": True}, {"model.include_special_tokens": False}),
                        variant_archs=("sfcnn14",))
    corpus = resolve_corpus(sweep, progress=False)
    one = SweepConfig(name="one", root=str(iemocap_root), archs=("sfcnn14",))
    assert precompute_features(feature_trials(expand(one, root=corpus.root, folds=corpus.folds), one),
                               str(tmp_path / "one"), progress=False) == 2
    per_setting = len(entries(tmp_path / "one", "text"))  # the cache is content-addressed: one per distinct text
    assert per_setting > 5
    cache = tmp_path / "cache"
    runs = expand(sweep, root=corpus.root, folds=corpus.folds)
    assert precompute_features(feature_trials(runs, sweep), str(cache), progress=False) == 5
    assert entries(cache, "log-mel") == entries(tmp_path / "one", "log-mel")  # log-Mel once
    assert len(entries(cache, "text")) == 4 * per_setting  # 2 token limits × 2 poolings
    assert precompute_features(feature_trials(runs, sweep), str(cache), progress=False) == 5
    assert len(entries(cache, "text")) == 4 * per_setting  # warm: nothing new


@pytest.mark.slow
def test_a_searched_choice_of_a_feature_setting_is_precomputed_too(iemocap_root, tmp_path):
    sweep = SweepConfig(name="s", root=str(iemocap_root), archs=("sfcnn14",),
                        search={"model.max_tokens": ("choice", [8, 16, 32]), "train.lr": ("loguniform", 1e-3, 0.1)})
    corpus = Corpus(str(iemocap_root), None, ("Ses01F",))
    runs = expand(sweep, root=corpus.root, folds=corpus.folds)
    assert precompute_features(feature_trials(runs, sweep), str(tmp_path), progress=False) == 4
    one = SweepConfig(name="one", root=str(iemocap_root), archs=("sfcnn14",))
    precompute_features(feature_trials(expand(one, root=corpus.root, folds=corpus.folds), one),
                        str(tmp_path / "one"), progress=False)
    assert len(entries(tmp_path, "text")) == 3 * len(entries(tmp_path / "one", "text"))
