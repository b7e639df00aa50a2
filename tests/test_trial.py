"""One trial end to end on a tiny demo corpus: every architecture, tasks, determinism, resume."""

import math

import pytest

from sertext.config import TrialConfig
from sertext.trial import run_trial
from tests.fixtures import write_tiny_wav2vec


def _config(root, cache, **overrides):
    values = {"data.root": str(root), "data.cache_dir": str(cache), "data.fold": "Ses01F",
              "model.width": 0.0625, "train.epochs": 2, "train.batch_size": 8}
    values.update(overrides)
    return TrialConfig.from_dict(values)


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize(("arch", "task", "options"), [
    ("crossrep", "categorical", {"model.bottleneck": 8, "model.downsample": 48}),
    ("crossrep-mel", "categorical", {"model.bottleneck": 8, "model.downsample": 48}),
    ("textcnn", "categorical", {}),
    ("lstmfusion", "dimensional", {"train.loss": "ccc", "train.loss_weights": [0.7, 0.2, 0.1]}),
    ("lstmfusion", "dimensional", {"data.targets": ["valence"], "train.loss": "ccc", "train.loss_weights": [1.0],
                                   "model.modalities": "audio"}),
    ("wavfusion", "dimensional", {"model.fusion": "attention"}),
    ("wavfusion", "dimensional", {"model.fusion": "concat"}),
])
def test_seed_paper_families_train_with_finite_metrics_and_reuse_cached_features(
        tiny_demo_root, tmp_path_factory, arch, task, options):
    cache = tmp_path_factory.getbasetemp() / "feature-cache"
    speech = write_tiny_wav2vec(tmp_path_factory.getbasetemp() / "tiny-wav2vec") if arch == "crossrep" else ""
    config = _config(tiny_demo_root, cache, **{"model.arch": arch, "data.task": task, "model.speech_model": speech,
                                               "train.batch_size": 4, "model.width": 0.0625, **options})
    result = run_trial(config)
    assert len(result.history) == 2 and all(math.isfinite(v) for v in result.metrics.values())
    assert ("dev/uar" if task == "categorical" else "dev/ccc") in result.metrics
    if arch.startswith("crossrep"):  # the speaker-identification probe of the codes (train and dev speakers)
        assert 0 <= result.metrics["probe/speaker_uar"] <= 1 and result.metrics["probe/speakers"] == 9
    entries = sorted(cache.rglob("*.npy"))
    assert run_trial(config).metrics == result.metrics  # deterministic, and every feature came from the cache
    assert sorted(cache.rglob("*.npy")) == entries


@pytest.mark.slow
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


@pytest.mark.slow
def test_same_config_and_seed_give_identical_metrics(tiny_demo_root, tmp_path):
    config = _config(tiny_demo_root, tmp_path, **{"model.arch": "mfcnn14", "train.seed": 3})
    first, second = run_trial(config), run_trial(config)
    assert first.metrics == second.metrics
    assert first.predictions["test"].equals(second.predictions["test"])
    other = run_trial(_config(tiny_demo_root, tmp_path, **{"model.arch": "mfcnn14", "train.seed": 4}))
    assert other.history != first.history


class Interrupt(Exception):
    pass


@pytest.mark.slow
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


def test_config_errors_are_clear(iemocap_root, tmp_path):
    with pytest.raises(ValueError, match="unknown train config key"):
        TrialConfig.from_dict({"train.learning_rate": 0.1})
    with pytest.raises(ValueError, match="unknown trial config key"):
        TrialConfig.from_dict({"lr": 0.1})
    with pytest.raises(ValueError, match="arch must be one of"):
        TrialConfig.from_dict({"model.arch": "cnn10"})
    with pytest.raises(ValueError, match="fold 'Ses09F' is not in protocol"):
        run_trial(_config(iemocap_root, tmp_path, **{"data.fold": "Ses09F"}))
    with pytest.raises(ValueError, match="single-task"):
        TrialConfig.from_dict({"data.task": "dimensional", "train.loss": "mse"})


@pytest.mark.slow
def test_speaker_normalisation_and_batch_norm_recalibration(tiny_demo_root, tmp_path):
    result = run_trial(_config(tiny_demo_root, tmp_path, **{
        "data.normalise": "speaker", "train.bn_recalibration": True}))
    assert all(math.isfinite(v) for v in result.metrics.values())


def test_batch_norm_recalibration_gives_each_layer_the_statistics_of_its_inputs():
    """After the pass over the training crops each BatchNorm layer holds, per channel, the mean and
    the unbiased variance of what it received, computed here by hand from its inputs: averaged
    over the batches with equal weight (PyTorch's cumulative average), whatever stale statistics
    it held before; then each layer gets its own momentum back."""
    import numpy as np
    import pandas as pd
    import torch

    from sertext.models import build
    from sertext.trial import _recalibrate_batch_norm, _Split

    config = TrialConfig.from_dict({"data.root": "x", "data.fold": "f", "model.arch": "cnn14", "model.width": 0.0625,
                                    "train.batch_size": 4, "train.crop_s": 0.4})
    torch.manual_seed(0)
    model = build("cnn14", n_outputs=4, width=0.0625)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [0.05 * (i + 1) for i in range(len(norms))]
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
        norm.running_mean.fill_(100.0)  # stale statistics, which must not leak into the new ones
        norm.running_var.fill_(100.0)
        norm.num_batches_tracked.fill_(7)
    rng = np.random.default_rng(0)
    mels = [rng.normal(i, 1 + i / 4, size=(20 + 9 * i, 64)).astype(np.float32) for i in range(10)]  # some < 40 frames
    split = _Split([f"u{i}" for i in range(10)], {"log_mel": mels}, np.arange(10) % 4, pd.DataFrame(index=range(10)))

    inputs = {norm: [] for norm in norms}
    hooks = [norm.register_forward_pre_hook(lambda norm, args: inputs[norm].append(args[0].double().numpy()))
             for norm in norms]
    _recalibrate_batch_norm(model, split, config, torch.Generator().manual_seed(1), torch.device("cpu"))
    for hook in hooks:
        hook.remove()

    assert len(norms) == 13  # the input's per-mel-bin BatchNorm and two per conv block
    for norm, momentum in zip(norms, momenta, strict=True):
        assert [len(batch) for batch in inputs[norm]] == [4, 4, 2]  # 10 utterances in batches of 4
        means, variances = [], []
        for batch in inputs[norm]:
            values = np.moveaxis(batch, 1, 0).reshape(norm.num_features, -1)  # channel × (utterance, time, …)
            n = values.shape[1]
            mean = values.sum(axis=1) / n
            means.append(mean)
            variances.append(((values - mean[:, None]) ** 2).sum(axis=1) / (n - 1))
        assert np.allclose(norm.running_mean.numpy(), sum(means) / len(means), rtol=1e-4, atol=1e-6)
        assert np.allclose(norm.running_var.numpy(), sum(variances) / len(variances), rtol=1e-4, atol=1e-6)
        assert norm.num_batches_tracked.item() == 3
        assert norm.momentum == momentum


def test_per_speaker_normalisation_standardises_each_speaker():
    import numpy as np
    import pandas as pd

    from sertext.trial import _normalise_per_speaker

    rng = np.random.default_rng(0)
    mels = {f"u{i}": rng.normal(5 * i, 2, size=(30 + i, 4)).astype(np.float32) for i in range(4)}
    table = pd.DataFrame({"utt_id": list(mels), "speaker": ["a", "a", "b", None]})
    out = _normalise_per_speaker(mels, table)
    speaker_a = np.concatenate([out["u0"], out["u1"]])
    assert np.allclose(speaker_a.mean(axis=0), 0, atol=1e-4) and np.allclose(speaker_a.std(axis=0), 1, atol=1e-3)
    assert np.allclose(out["u3"].mean(axis=0), 0, atol=1e-4)


def test_short_utterances_are_padded_with_their_quietest_frame():
    import numpy as np
    import torch

    from sertext.trial import _crop

    mel = np.array([[1.0, 5.0], [3.0, 2.0]], dtype=np.float32)
    padded = _crop(mel, 4, torch.Generator().manual_seed(0))
    assert padded.tolist() == [[1, 5], [3, 2], [1, 2], [1, 2]]
    long = np.arange(20, dtype=np.float32).reshape(10, 2)
    crop = _crop(long, 3, torch.Generator().manual_seed(0))
    assert crop.shape == (3, 2) and (np.diff(crop[:, 0]) == 2).all()


def test_utterances_shorter_than_cnn14_can_pool_are_evaluated_padded():
    """A 0.2 s utterance (20 frames) would pool to nothing in CNN14's five 2 × 2 poolings."""
    import numpy as np
    import pandas as pd
    import torch

    from sertext.models import build
    from sertext.trial import _batch_inputs, _Split

    config = TrialConfig.from_dict({"data.root": "x", "data.fold": "f", "model.arch": "cnn14", "model.width": 0.0625})
    model = build("cnn14", n_outputs=4, width=0.0625).eval()
    quiet = np.linspace(0, 1, 20 * 64, dtype=np.float32).reshape(20, 64)
    split = _Split(["short"], {"log_mel": [quiet]}, np.array([0]), pd.DataFrame(index=[0]))
    inputs = _batch_inputs(split, [0], config, model, torch.device("cpu"), None)
    assert inputs["log_mel"].shape == (1, 32, 64)
    assert torch.equal(inputs["log_mel"][0, 20:], torch.from_numpy(quiet.min(axis=0)).expand(12, 64))
    assert torch.isfinite(model(**inputs)).all()


@pytest.mark.slow
def test_cross_corpus_evaluation_predicts_the_whole_other_corpus(tiny_demo_root, tmp_path):
    from sertext.data import four_class, load_corpus
    from sertext.data.demo import write_demo_msp_podcast

    msp = write_demo_msp_podcast(tmp_path / "msp", tiny_demo_root)
    result = run_trial(_config(msp, tmp_path / "cache", **{
        "data.corpus": "msp-podcast", "data.protocol": "msp-official", "data.fold": "official",
        "data.cross_corpus": "iemocap", "data.cross_root": str(tiny_demo_root)}))
    cross = result.predictions["cross"]
    assert sorted(cross["utt_id"]) == sorted(four_class(load_corpus("iemocap", tiny_demo_root))["utt_id"])
    assert {"cross/uar", "cross/wa", "cross/f1_macro"} <= set(result.metrics)
    assert result.predictions["test"]["utt_id"].str.startswith("MSP-PODCAST_").all()
    with pytest.raises(ValueError, match="needs cross_root"):
        TrialConfig.from_dict({"data.cross_corpus": "iemocap"})
