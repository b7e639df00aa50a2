"""A sweep's definition and its one expansion to trials: pure, without Ray, torch or MLflow."""

import subprocess
import sys

import pytest

from sertext.sweep import SweepConfig, expand
from sertext.sweep.definition import feature_trials

FOLDS = ("Ses01F", "Ses01M")


def configs(sweep, folds=FOLDS):
    return [trial.config for run in expand(sweep, root="/c", folds=folds) for c in run.candidates for trial in c.trials]


def test_a_grid_expands_to_every_trial_in_a_fixed_order():
    sweep = SweepConfig(name="s", root="/c", archs=("cnn14", "text"), seeds=(0, 1),
                        grid={"model.dropout": [0.1, 0.2]}, fixed={"model.width": 0.25})
    runs = expand(sweep, root="/c", folds=FOLDS)
    assert [run.name for run in runs] == ["s"] and all(len(c.trials) == 1 for c in runs[0].candidates)
    trials = configs(sweep)
    assert len(trials) == 2 * 2 * 2 * 2
    assert [(t["model.arch"], t["model.dropout"], t["data.fold"], t["train.seed"]) for t in trials[:4]] == [
        ("cnn14", 0.1, "Ses01F", 0), ("cnn14", 0.1, "Ses01F", 1), ("cnn14", 0.1, "Ses01M", 0),
        ("cnn14", 0.1, "Ses01M", 1)]
    assert all(t["model.width"] == 0.25 and t["data.root"] == "/c" and t["data.task"] == "categorical"
               for t in trials)
    assert trials == configs(sweep)  # the same definition always expands alike


def test_the_documented_precedence():
    sweep = SweepConfig(name="s", root="/c", archs=("cnn14", "text"),
                        fixed={"train.epochs": 3, "train.lr": 0.1, "model.width": 0.5, "train.crop_s": 1.0},
                        per_arch={"text": {"train.epochs": 1, "train.lr": 1e-4, "model.width": 0.25}},
                        grid={"train.lr": [0.01]}, variants=({"model.width": 0.125},), variant_archs=("cnn14",))
    cnn14, text = (next(t for t in configs(sweep, ("Ses01F",)) if t["model.arch"] == a) for a in ("cnn14", "text"))
    assert (cnn14["train.epochs"], cnn14["train.lr"], cnn14["model.width"]) == (3, 0.01, 0.125)  # grid, variant
    assert (text["train.epochs"], text["train.lr"], text["model.width"]) == (1, 0.01, 0.25)  # per_arch < grid
    assert cnn14["train.crop_s"] == text["train.crop_s"] == 1.0


def test_variants_apply_to_their_architectures_only():
    sweep = SweepConfig(name="s", root="/c", archs=("crossrep-mel", "textcnn"), variant_archs=("crossrep-mel",),
                        variants=({"model.bottleneck": 8}, {"model.bottleneck": 16}))
    labels = [(t["model.arch"], t.get("model.bottleneck")) for t in configs(sweep, ("Session1",))]
    assert labels == [("crossrep-mel", 8), ("crossrep-mel", 16), ("textcnn", None)]


def test_a_search_is_one_tune_run_per_cell_or_per_architecture():
    space = {"train.lr": ("loguniform", 1e-3, 1e-1)}
    per_cell = expand(SweepConfig(name="s", root="/c", archs=("cnn14",), seeds=(0, 1), search=space,
                                  num_samples=4), root="/c", folds=FOLDS)
    assert [run.name for run in per_cell] == ["s/cnn14-Ses01F-seed0", "s/cnn14-Ses01F-seed1",
                                              "s/cnn14-Ses01M-seed0", "s/cnn14-Ses01M-seed1"]
    assert all(run.search == space and run.num_samples == 4 and len(run.candidates) == 1 for run in per_cell)
    protocol = expand(SweepConfig(name="s", root="/c", archs=("cnn14", "text"), seeds=(0, 1), search=space,
                                  scope="protocol"), root="/c", folds=FOLDS)
    assert [run.name for run in protocol] == ["s/cnn14", "s/text"]
    cells = protocol[0].candidates[0].trials
    assert [(t.fold, t.seed) for t in cells] == [("Ses01F", 0), ("Ses01F", 1), ("Ses01M", 0), ("Ses01M", 1)]
    sampled = cells[0].with_values({"train.lr": 0.02})
    assert sampled.config["train.lr"] == 0.02 and sampled.setting == {"train.lr": 0.02} and sampled.key != cells[0].key


def test_a_protocol_scope_grid_makes_one_candidate_per_setting():
    sweep = SweepConfig(name="s", root="/c", archs=("cnn14",), seeds=(0, 1), grid={"train.lr": [0.01, 0.1]},
                        scope="protocol")
    (run,) = expand(sweep, root="/c", folds=FOLDS)
    assert [len(c.trials) for c in run.candidates] == [4, 4]
    assert [c.label for c in run.candidates] == ["cnn14-lr=0.01-4 trials", "cnn14-lr=0.1-4 trials"]
    assert len({c.label for c in expand(SweepConfig(name="s", root="/c", grid={"train.lr": [0.12345, 0.12346]}),
                                        root="/c", folds=FOLDS)[0].candidates}) == 4  # labels tell them apart


def test_feature_trials_cover_every_feature_setting_once():
    grid = SweepConfig(name="s", root="/c", archs=("sfcnn14", "cnn14"), seeds=(0, 1),
                       grid={"model.max_tokens": [16, 32], "train.lr": [0.1, 0.01]})
    trials = feature_trials(expand(grid, root="/c", folds=FOLDS), grid)
    assert sorted((t.arch, t.config["model.max_tokens"], t.config["train.lr"]) for t in trials) == sorted(
        (arch, tokens, lr) for arch in ("sfcnn14", "cnn14") for tokens in (16, 32) for lr in (0.1, 0.01))
    search = SweepConfig(name="s", root="/c", archs=("sfcnn14",), search={"model.max_tokens": ("choice", [16, 32]),
                                                                          "train.lr": ("uniform", 0.01, 0.1)})
    trials = feature_trials(expand(search, root="/c", folds=FOLDS), search)
    assert sorted(t.config["model.max_tokens"] for t in trials) == [16, 32]


def test_features_trained_per_fold_are_prepared_per_fold():
    """wavfusion's Word2Vec / Speech2Vec inputs differ between folds; transcript vectors do not."""
    sweep = SweepConfig(name="s", root="/c", archs=("wavfusion",), task="dimensional", seeds=(0, 1),
                        variants=({"model.semantic": "speech2vec"}, {"model.semantic": "vectors"}))
    trials = feature_trials(expand(sweep, root="/c", folds=FOLDS), sweep)
    assert sorted((t.config["model.semantic"], t.fold) for t in trials if t.config["model.semantic"] == "speech2vec") \
        == [("speech2vec", fold) for fold in sorted(FOLDS)]
    assert sum(t.config["model.semantic"] == "vectors" for t in trials) == 1


@pytest.mark.parametrize(("fields", "message"), [
    (dict(archs=("cnn15",)), "unknown architecture"),
    (dict(fixed={"train.learning_rate": 0.1}), "did you mean train.lr"),
    (dict(grid={"model.dropout": [0.1, 5.0]}, archs=("cnn14",), per_arch={"text": {}}), "per_arch names"),
    (dict(search={"train.lr": ("uniform", 0.01, 0.1)}, grid={"model.dropout": [0.1]}), "not with grid"),
    (dict(search={"train.lr": ("normal", 0, 1)}), "search 'train.lr'"),
    (dict(grid={"train.lr": [0.1]}, variants=({"train.lr": 0.01},)), "train.lr comes from both grid and variants"),
    (dict(fixed={"data.fold": "Ses01F"}), "fixed sets 'data.fold'"),
    (dict(grid={"train.seed": [1, 2]}), "grid sets 'train.seed'"),
    (dict(task="dimensional", metric="dev/uar"), "does not fit the dimensional task"),
    (dict(metric="test/uar"), "model selection uses a dev metric"),
    (dict(task="dimensional", metric="dev/mse_valence"), "selection maximises"),
    (dict(scheduler="asha"), "needs a search"),
    (dict(scope="protocol"), "chooses between settings"),
    (dict(scope="fold"), "scope must be one of"),
    (dict(grid={"model.width": 0.5}), "non-empty list"),
    (dict(variants=({"model.width": -1.0},)), "width must be positive"),
    (dict(name="../x"), "sweep name"),
    (dict(fixed_fusion=(0.6,)), "give two weights"),
    (dict(variants=({"model.width": 0.5}, {"model.width": 0.5})), "two variants are the same"),
    (dict(grid={"model.width": [0.5, 0.5]}), "two points read alike"),
    (dict(fixed_fusion=(-1, 1)), "give two weights"),
    (dict(root="", demo=False), "corpus root"),
])
def test_a_bad_definition_fails_when_it_is_made(fields, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        SweepConfig(**{"name": "s", "root": "/c", **fields})


def test_the_metric_follows_the_task():
    assert SweepConfig(name="s", root="/c").metric == "dev/uar"
    assert SweepConfig(name="s", root="/c", task="dimensional").metric == "dev/ccc"
    assert SweepConfig(name="s", root="/c", task="dimensional", metric="dev/ccc_valence").metric == "dev/ccc_valence"


def test_the_fingerprint_is_derived_from_every_field():
    """No hand-kept list: a field added to the definition is part of the fingerprint at once."""
    base = SweepConfig(name="s", root="/c")
    assert set(base.definition()) == set(SweepConfig.__dataclass_fields__)
    assert base.fingerprint() == SweepConfig(name="s", root="/c").fingerprint()
    for change in (dict(archs=("text",)), dict(seeds=(1,)), dict(fixed={"model.width": 0.5}), dict(demo=True),
                   dict(scope="protocol", grid={"model.dropout": [0.1]}), dict(text_baseline="textcnn")):
        assert SweepConfig(**{"name": "s", "root": "/c", **change}).fingerprint() != base.fingerprint(), change


def test_a_definition_imports_neither_torch_ray_nor_mlflow():
    probe = ("import sys\nfrom sertext.sweep import SweepConfig, expand\n"
             "expand(SweepConfig(name='s', root='/c', archs=('mfcnn14', 'text')), root='/c', folds=('Ses01F',))\n"
             "print(*[m for m in ('torch', 'ray', 'mlflow') if m in sys.modules])")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "", run.stdout + run.stderr
