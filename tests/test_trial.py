"""One trial end to end on a tiny demo corpus: every architecture, tasks, determinism, resume."""

import math

import pytest

from sertext.config import TrialConfig
from sertext.trial import run_trial

pytestmark = pytest.mark.slow


def _config(root, cache, **overrides):
    values = {"data.root": str(root), "data.cache_dir": str(cache), "data.fold": "Ses01F",
              "model.width": 0.0625, "train.epochs": 2, "train.batch_size": 8}
    values.update(overrides)
    return TrialConfig.from_dict(values)


@pytest.mark.parametrize("arch", ["cnn14", "sfcnn14", "mfcnn14", "text"])
def test_every_architecture_trains_with_finite_metrics(tiny_demo_root, tmp_path_factory, arch):
    cache = tmp_path_factory.getbasetemp() / "feature-cache"
    result = run_trial(_config(tiny_demo_root, cache, **{"model.arch": arch}))
    assert set(result.metrics) == {f"{s}/{m}" for s in ("dev", "test") for m in ("uar", "wa", "f1_macro")}
    assert all(math.isfinite(v) for v in result.metrics.values())
    assert len(result.history) == 2 and result.best_epoch in (0, 1)
    test = result.predictions["test"]
    assert test["utt_id"].str.match(r"Ses01[FM]_.*_F\d{3}$").all()  # the test speaker is Ses01F
    assert {"truth", "prediction", "prob_angry", "prob_happy", "prob_neutral", "prob_sad"} <= set(test.columns)
    assert test.filter(like="prob_").sum(axis=1).round(5).eq(1).all()


def test_dimensional_multitask_ccc_and_single_task_mse(tiny_demo_root, tmp_path):
    multi = run_trial(_config(tiny_demo_root, tmp_path, **{
        "data.task": "dimensional", "train.loss_weights": [0.2, 0.7, 0.1]}))
    assert multi.config.loss == "ccc"
    assert {"dev/ccc_valence", "test/ccc_arousal", "test/pcc_dominance", "test/mse_valence", "dev/ccc"} \
        <= set(multi.metrics)
    assert {"arousal", "pred_arousal", "valence", "pred_valence"} <= set(multi.predictions["dev"].columns)
    single = run_trial(_config(tiny_demo_root, tmp_path, **{  # raw 1-5 targets: a smaller lr
        "data.task": "dimensional", "data.targets": ["valence"], "train.lr": 0.001}))
    assert single.config.loss == "mse"
    assert set(single.metrics) == {f"{s}/{m}" for s in ("dev", "test")
                                   for m in ("ccc_valence", "pcc_valence", "mse_valence", "ccc")}


def test_same_config_and_seed_give_identical_metrics(tiny_demo_root, tmp_path):
    config = _config(tiny_demo_root, tmp_path, **{"model.arch": "mfcnn14", "train.seed": 3})
    first, second = run_trial(config), run_trial(config)
    assert first.metrics == second.metrics
    assert first.predictions["test"].equals(second.predictions["test"])
    other = run_trial(_config(tiny_demo_root, tmp_path, **{"model.arch": "mfcnn14", "train.seed": 4}))
    assert other.history != first.history


class Interrupt(Exception):
    pass


def test_interrupted_trial_resumes_to_the_same_end(tiny_demo_root, tmp_path):
    uninterrupted = run_trial(_config(tiny_demo_root, tmp_path / "cache", **{"train.epochs": 4}))

    def stop_after_second_epoch(epoch, metrics):
        if epoch == 1:
            raise Interrupt

    resumable = _config(tiny_demo_root, tmp_path / "cache", **{
        "train.epochs": 4, "checkpoint_dir": str(tmp_path / "checkpoint")})
    with pytest.raises(Interrupt):
        run_trial(resumable, reporter=stop_after_second_epoch)
    seen = []
    resumed = run_trial(resumable, reporter=lambda epoch, metrics: seen.append(epoch))
    assert seen == [2, 3]
    assert resumed.metrics == uninterrupted.metrics
    assert resumed.history == uninterrupted.history
    with pytest.raises(ValueError, match="different trial config"):
        run_trial(_config(tiny_demo_root, tmp_path / "cache", **{
            "train.epochs": 5, "checkpoint_dir": str(tmp_path / "checkpoint")}))


def test_config_errors_are_clear(tiny_demo_root, tmp_path):
    with pytest.raises(ValueError, match="unknown train config key"):
        TrialConfig.from_dict({"train.learning_rate": 0.1})
    with pytest.raises(ValueError, match="unknown trial config key"):
        TrialConfig.from_dict({"lr": 0.1})
    with pytest.raises(ValueError, match="arch must be one of"):
        TrialConfig.from_dict({"model.arch": "cnn10"})
    with pytest.raises(ValueError, match="fold 'Ses09F' is not in protocol"):
        run_trial(_config(tiny_demo_root, tmp_path, **{"data.fold": "Ses09F"}))
    with pytest.raises(ValueError, match="single-task"):
        TrialConfig.from_dict({"data.task": "dimensional", "train.loss": "mse"})
