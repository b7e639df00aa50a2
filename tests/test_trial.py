"""One trial end to end on a tiny demo corpus: every architecture, tasks, determinism, resume."""

import math
import re
from pathlib import Path

import pytest

from sertext.config import TrialConfig
from sertext.data.alignment import alignment_path
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
                                   "model.modalities": "audio", "train.optimizer": "nadam"}),  # the paper's, audio only
    ("wavfusion", "dimensional", {"model.fusion": "hierarchical"}),
    ("wavfusion", "dimensional", {"model.fusion": "attention"}),
    ("wavfusion", "dimensional", {"model.fusion": "concat", "model.semantic": "vectors"}),  # transcript vectors
    ("wavfusion", "dimensional", {"model.modalities": "text", "model.semantic": "word2vec"}),  # Table 2's rows
    ("wavfusion", "dimensional", {"model.modalities": "audio", "model.semantic": "vectors"}),
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
    if arch == "wavfusion" and options.get("model.semantic") != "vectors":  # the fold's alignment check
        assert -1 <= result.metrics["semantic/aligned_cosine"] <= 1 and result.metrics["semantic/held_out_words"] >= 1
    if arch.startswith("crossrep"):  # the speaker-identification probe of the codes (train and dev speakers)
        assert 0 <= result.metrics["probe/speaker_uar"] <= 1 and result.metrics["probe/speakers"] == 9
        assert 0 <= result.metrics["probe/speaker_wa"] <= 1
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


@pytest.mark.slow
def test_speech_only_semantic_inputs_read_no_transcript_at_evaluation(tiny_demo_root, tmp_path):
    """Tzirakis et al. discard the text at evaluation: with the test speaker's transcripts and the
    words of its alignments replaced, an aligned-Speech2Vec model (trained afresh, with a fresh
    cache) gives the same test predictions; a Word2Vec model's change."""
    import shutil

    from sertext.data import load_corpus

    blanked = shutil.copytree(tiny_demo_root, tmp_path / "blanked")
    test = load_corpus("iemocap", blanked).query("speaker == 'Ses01F'")
    for path in {blanked / f"Session{int(u[3:5])}" / "dialog" / "transcriptions" / f"{dialog}.txt"
                 for u, dialog in zip(test["utt_id"], test["dialog"], strict=True)}:
        lines = [line.split(":", 1)[0] + ": something else" if line.split(" ")[0] in set(test["utt_id"]) else line
                 for line in path.read_text().splitlines()]
        path.write_text("\n".join(lines) + "\n")
    for wav in test["path"]:
        wdseg = alignment_path(wav, "wdseg")
        wdseg.write_text("".join(re.sub(r"^(\s*\d+\s+\d+\s+-?\d+) (?!<)\S+$", r"\1 ELSEWHERE", line) + "\n"
                                 for line in wdseg.read_text().splitlines()))
    assert set(load_corpus("iemocap", blanked).query("speaker == 'Ses01F'")["text"]) == {"something else"}

    def test_predictions(root, cache, semantic):
        return run_trial(_config(root, cache, **{
            "model.arch": "wavfusion", "data.task": "dimensional", "model.semantic": semantic,
            "train.epochs": 1, "train.batch_size": 4})).predictions["test"]

    original = test_predictions(Path(tiny_demo_root), tmp_path / "cache", "aligned_speech2vec")
    # a fresh cache that holds only the fold's space: every feature is computed again from the
    # blanked corpus, by the space its (unchanged) training utterances gave
    shutil.copytree(tmp_path / "cache" / "semantic-space", tmp_path / "fresh" / "semantic-space")
    assert original.equals(test_predictions(blanked, tmp_path / "fresh", "aligned_speech2vec"))
    assert not test_predictions(Path(tiny_demo_root), tmp_path / "cache", "word2vec").equals(
        test_predictions(blanked, tmp_path / "fresh", "word2vec"))
    assert len(list((tmp_path / "fresh" / "semantic-space").rglob("*.npy"))) == 6  # no second space


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


# --- budgets and model selection ----------------------------------------------------------------
def _session_fold(root, cache, arch, **overrides):
    """A leave-one-session-out trial on fold Session1: 37 training utterances, so 9 steps of 4 per
    epoch (the last utterance, a batch of one, left out)."""
    return _config(root, cache, **{"model.arch": arch, "data.protocol": "iemocap-loso-session",
                                   "data.fold": "Session1", "train.epochs": None, "train.batch_size": 4,
                                   "model.probe": "linear", **overrides})


@pytest.fixture
def optimiser_steps():
    """The optimisers stepped while the test runs, one ``id`` per step (the trial's first)."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    steps = []
    handle = register_optimizer_step_post_hook(lambda optimizer, args, kwargs: steps.append(id(optimizer)))
    yield steps
    handle.remove()


def _spy(monkeypatch, name: str, record):
    """Wrap ``sertext.trial.<name>``: ``record(args, result)`` sees each call."""
    from sertext import trial

    original = getattr(trial, name)

    def spied(*args, **kwargs):
        result = original(*args, **kwargs)
        record(args, result)
        return result

    monkeypatch.setattr(trial, name, spied)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["crossrep-mel", "textcnn"])
def test_makiuchi_folds_train_a_fixed_number_of_steps_on_all_training_sessions_and_evaluate_the_last_model(
        tiny_demo_root, tmp_path_factory, monkeypatch, optimiser_steps, arch):
    """Makiuchi et al. §5: no dev set, every utterance of the four training sessions trains for a
    budget in iterations (13: an epoch of 9 steps and 4 of the next), the last model is evaluated;
    the speaker probe reads every training utterance (80 % of each speaker's train it, §6.2)."""
    from sertext.trial import task_table

    splits, probed = {}, []
    _spy(monkeypatch, "_prepare_splits", lambda args, result: splits.update(
        {name: split.ids for name, split in result[0].items()}))
    _spy(monkeypatch, "_speaker_probe", lambda args, result: probed.extend(u for s in args[1] for u in s.ids))
    cache = tmp_path_factory.getbasetemp() / "feature-cache"
    result = run_trial(_session_fold(tiny_demo_root, cache, arch, **{"train.iterations": 13}))
    assert (result.config.train.selection, result.config.data.dev_fraction) == ("last", 0.0)
    table, _ = task_table(result.config)
    assert set(splits) == {"train", "test"}
    assert splits["train"] == table.loc[table["session"] != 1, "utt_id"].tolist() and len(splits["train"]) == 37
    assert len(optimiser_steps) == optimiser_steps.count(optimiser_steps[0]) == 13
    assert [set(record) for record in result.history] == [{"epoch", "train/loss"}] * 2
    assert result.best_epoch == len(result.history) - 1 == 1
    assert list(result.predictions) == ["test"]
    probe = {"probe/speaker_uar", "probe/speaker_wa", "probe/speakers"} if arch == "crossrep-mel" else set()
    assert set(result.metrics) == {"test/uar", "test/wa", "test/f1_macro"} | probe
    if probe:
        assert probed == splits["train"] and result.metrics["probe/speakers"] == 8


@pytest.mark.slow
def test_dev_selection_holds_a_hashed_fifth_out_and_keeps_the_best_dev_epoch(
        tiny_demo_root, tmp_path_factory, monkeypatch):
    """The dev-selected variant of a Makiuchi family (``train.selection="dev"``): the fold as before,
    20 % of the training utterances held out by hash, the best dev epoch evaluated."""
    from sertext.data import make_folds
    from sertext.trial import task_table

    splits = {}
    _spy(monkeypatch, "_prepare_splits", lambda args, result: splits.update(
        {name: split.ids for name, split in result[0].items()}))
    cache = tmp_path_factory.getbasetemp() / "feature-cache"
    settings = {"train.epochs": 6, "train.lr": 1e-2, "train.seed": 1}
    result = run_trial(_session_fold(tiny_demo_root, cache, "textcnn", **{"train.selection": "dev", **settings}))
    assert result.config.data.dev_fraction == 0.2
    table, _ = task_table(result.config)
    fold = next(f for f in make_folds(table, "iemocap-loso-session") if f.name == "Session1")
    assert fold.dev and (splits["train"], splits["dev"]) == (fold.train, fold.dev)
    scores = [record["dev/uar"] for record in result.history]
    assert len(set(scores)) > 1  # (a curve to select on)
    assert result.best_epoch == scores.index(max(scores)) and result.metrics["dev/uar"] == max(scores)
    assert set(result.predictions) == {"dev", "test"} and result.predictions["dev"]["utt_id"].tolist() == fold.dev
    assert {key.split("/")[0] for key in result.metrics} == {"dev", "test"}
    # the same training with the last model evaluated (dev curves kept): only the selection differs
    last = run_trial(_session_fold(tiny_demo_root, cache, "textcnn", **{"data.dev_fraction": 0.2, **settings}))
    assert last.history == result.history and last.best_epoch == 5
    assert last.metrics["dev/uar"] == scores[-1]
    assert last.predictions["test"].equals(result.predictions["test"]) == (result.best_epoch == 5)


@pytest.mark.slow
def test_an_interrupted_iteration_budget_resumes_to_the_same_end(tiny_demo_root, tmp_path_factory, tmp_path,
                                                                  optimiser_steps):
    cache = tmp_path_factory.getbasetemp() / "feature-cache"

    def config(**more):
        return _session_fold(tiny_demo_root, cache, "textcnn", **{"train.iterations": 22, **more})

    uninterrupted = run_trial(config())
    assert len(optimiser_steps) == 22 and len(uninterrupted.history) == 3  # 9 + 9 + 4 steps

    def stop_after_second_epoch(epoch, metrics):
        if epoch == 1:
            raise Interrupt

    resumable = config(checkpoint_dir=str(tmp_path / "checkpoint"))
    with pytest.raises(Interrupt):
        run_trial(resumable, reporter=stop_after_second_epoch)
    optimiser_steps.clear()
    seen = []
    resumed = run_trial(resumable, reporter=lambda epoch, metrics: seen.append(epoch))
    assert seen == [2] and len(optimiser_steps) == 4
    assert resumed.metrics == uninterrupted.metrics and resumed.history == uninterrupted.history
    assert resumed.best_epoch == uninterrupted.best_epoch == 2
    assert resumed.predictions["test"].equals(uninterrupted.predictions["test"])


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
    with pytest.raises(ValueError, match="standardise_targets applies to the dimensional task"):
        TrialConfig.from_dict({"train.standardise_targets": True})


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


def test_batch_norm_recalibration_sees_the_activations_of_evaluation_without_dropout():
    """Dropout is off during the pass (BatchNorm alone trains): statistics taken with dropout on
    carry its extra variance, which evaluation never sees.  Two passes agree, as no unit is dropped."""
    import numpy as np
    import pandas as pd
    import torch

    from sertext.models import build
    from sertext.trial import _recalibrate_batch_norm, _Split

    config = TrialConfig.from_dict({"data.root": "x", "data.fold": "f", "model.arch": "cnn14", "model.width": 0.0625,
                                    "train.batch_size": 5, "train.crop_s": 0.4})
    torch.manual_seed(0)
    model = build("cnn14", n_outputs=4, width=0.0625, dropout=0.5)  # CNN14 drops out when model.training
    modes = []
    model.register_forward_pre_hook(lambda module, args, kwargs: modes.append(module.training), with_kwargs=True)
    rng = np.random.default_rng(0)
    mels = [rng.normal(size=(60, 64)).astype(np.float32) for _ in range(10)]
    split = _Split([f"u{i}" for i in range(10)], {"log_mel": mels}, np.arange(10) % 4, pd.DataFrame(index=range(10)))
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    statistics = []
    for _ in range(2):
        _recalibrate_batch_norm(model, split, config, torch.Generator().manual_seed(1), torch.device("cpu"))
        statistics.append([norm.running_var.clone() for norm in norms])

    assert modes and not any(modes)
    assert all(norm.training for norm in norms)
    assert all(torch.equal(a, b) for a, b in zip(*statistics, strict=True))


def test_standardised_targets_train_on_z_scores_and_predict_on_the_labels_scale():
    """The training split's mean and std only; outputs mapped back exactly; off by default."""
    import numpy as np
    import pandas as pd

    from sertext.trial import _Split, _TargetScale

    targets = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]], dtype=np.float32)
    train = _Split(["a", "b", "c"], {}, targets, pd.DataFrame(index=range(3)))
    on = TrialConfig.from_dict({"data.task": "dimensional", "data.targets": ["arousal", "valence"],
                                "train.loss_weights": [1, 1], "train.standardise_targets": True})
    scale = _TargetScale.of(train, on)
    z = scale.standardised(train).targets
    assert np.allclose(z[:, 0], [-1.2247449, 0, 1.2247449]) and np.allclose(z[:, 1], 0)  # constant column: std 1
    assert np.allclose(scale.restored(z), targets)
    assert train.targets is targets  # the split itself is left as it was
    off = _TargetScale.of(train, TrialConfig.from_dict({"data.task": "dimensional"}))
    assert off.standardised(train) is train and off.restored(targets) is targets


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
def test_cross_corpus_evaluation_tests_on_msp_podcasts_test_set_or_all_of_iemocap(tiny_demo_root, tmp_path):
    """The multistage paper's two directions: MSP-Podcast's model on the whole of IEMOCAP, an
    IEMOCAP fold's model on MSP-Podcast's official test set (Test1) only."""
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
    other_way = run_trial(_config(tiny_demo_root, tmp_path / "cache", **{
        "data.cross_corpus": "msp-podcast", "data.cross_root": str(msp)}))
    table = four_class(load_corpus("msp-podcast", msp))
    assert sorted(other_way.predictions["cross"]["utt_id"]) == sorted(table.loc[table["split"] == "Test1", "utt_id"])
    assert table["split"].nunique() == 3 and "cross/uar" in other_way.metrics
    with pytest.raises(ValueError, match="needs cross_root"):
        TrialConfig.from_dict({"data.cross_corpus": "iemocap"})


# --- each paper's training and model choices ----------------------------------------------------
def _resolved(arch, **overrides):
    return TrialConfig.from_dict({"data.root": "x", "data.fold": "f", "model.arch": arch, **overrides}).resolved()


def test_cross_entropy_is_weighted_only_where_the_paper_weighs_it():
    """The CNN14 paper weighs by inverse class frequency; Makiuchi et al.'s Eq. 3 is plain."""
    import numpy as np
    import torch
    from torch.nn import functional as F

    from sertext.losses import inverse_frequency_weights
    from sertext.trial import _loss

    targets = np.array([0, 0, 0, 0, 1, 2, 3, 3])
    output, truth = torch.randn(8, 4, generator=torch.Generator().manual_seed(0)), torch.from_numpy(targets)
    weighted = F.cross_entropy(output, truth, weight=inverse_frequency_weights(targets, 4))
    plain = F.cross_entropy(output, truth)
    assert not torch.allclose(weighted, plain)
    for config, expected in ((_resolved("cnn14"), weighted), (_resolved("text"), weighted),
                             (_resolved("crossrep-mel"), plain), (_resolved("textcnn"), plain),
                             (_resolved("cnn14", **{"train.class_weights": "none"}), plain),
                             (_resolved("textcnn", **{"train.class_weights": "inverse_frequency"}), weighted)):
        assert torch.allclose(_loss(config, targets, 4, torch.device("cpu"))(output, truth), expected)


def test_optimisers_follow_each_paper_and_the_code_stays_reachable():
    import torch

    from sertext.models import ARCHITECTURES
    from sertext.trial import _optimiser

    model = torch.nn.Linear(3, 2)
    adam, schedule = _optimiser(model, _resolved("wavfusion"), 10)  # Tzirakis et al. §5
    assert type(adam) is torch.optim.Adam and schedule is None
    assert (adam.defaults["lr"], adam.defaults["betas"]) == (1e-4, (0.9, 0.999))
    code, _ = _optimiser(model, _resolved("wavfusion", **ARCHITECTURES["wavfusion"].public_code), 10)
    assert (code.defaults["lr"], code.defaults["betas"]) == (5e-4, (0.9, 0.99))
    nadam, _ = _optimiser(model, _resolved("lstmfusion", **{"train.optimizer": "nadam"}), 10)  # Atmaja, audio only
    assert type(nadam) is torch.optim.NAdam
    assert (nadam.defaults["eps"], nadam.defaults["momentum_decay"]) == (1e-7, 4e-3)
    rmsprop, _ = _optimiser(model, _resolved("lstmfusion"), 10)
    assert type(rmsprop) is torch.optim.RMSprop
    adamw, _ = _optimiser(model, _resolved("text", **{"train.optimizer": "adamw"}), 10)
    assert type(adamw) is torch.optim.AdamW


def test_text_baseline_trains_with_bert_adam_on_a_1000_step_linear_schedule():
    """The text paper: no bias correction, 100 warm-up steps from 0, then down to 0 at step 1000,
    whatever the trial's length."""
    import torch

    from sertext.models.text import BertAdamW
    from sertext.trial import _optimiser

    model = torch.nn.Linear(3, 2)
    optimizer, schedule = _optimiser(model, _resolved("text"), steps_per_epoch=7)
    assert type(optimizer) is BertAdamW and optimizer.defaults["eps"] == 1e-6
    rates = []
    for _ in range(1100):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[0] == 0.0 and rates[50] == pytest.approx(1e-5) and rates[100] == pytest.approx(2e-5)
    assert rates[550] == pytest.approx(1e-5) and rates[1000] == 0.0 and rates[1099] == 0.0
    shorter, schedule = _optimiser(model, _resolved("text", **{"train.schedule_steps": 10, "train.warmup_steps": 0}), 7)
    assert shorter.param_groups[0]["lr"] == pytest.approx(2e-5)


def test_bert_adam_and_its_schedule_resume_from_a_checkpoint_exactly(tmp_path):
    """The text baseline's optimiser state and schedule survive the trial's checkpoint (saved with
    torch.save, loaded with weights_only=True), so a resumed trial ends where an uninterrupted one does."""
    import torch

    from sertext.trial import _optimiser

    def run(model, steps, optimizer, schedule, start=0):
        for step in range(start, start + steps):
            model.zero_grad()
            model(torch.full((2, 3), float(step + 1))).pow(2).sum().backward()
            optimizer.step()
            schedule.step()

    config = _resolved("text", **{"train.warmup_steps": 2, "train.schedule_steps": 6})
    torch.manual_seed(0)
    straight = torch.nn.Linear(3, 2)
    resumed = torch.nn.Linear(3, 2)
    resumed.load_state_dict(straight.state_dict())
    run(straight, 5, *_optimiser(straight, config, 1))
    optimizer, schedule = _optimiser(resumed, config, 1)
    run(resumed, 3, optimizer, schedule)
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": schedule.state_dict()}, tmp_path / "c.pt")
    saved = torch.load(tmp_path / "c.pt", weights_only=True)
    optimizer, schedule = _optimiser(resumed, config, 1)
    optimizer.load_state_dict(saved["optimizer"])
    schedule.load_state_dict(saved["scheduler"])
    assert optimizer.param_groups[0]["lr"] == pytest.approx(2e-5 * 3 / 4)
    run(resumed, 2, optimizer, schedule, start=3)
    assert all(torch.equal(a, b) for a, b in zip(straight.parameters(), resumed.parameters(), strict=True))


def _clipping_fit(grad_clip, norms):
    """A tiny CNN14 fit whose loss has huge gradients, and an lr-0 optimiser that records the
    global gradient norm it is handed at every step."""
    import numpy as np
    import pandas as pd
    import torch

    from sertext.models import build
    from sertext.trial import _Fit, _Split

    config = _resolved("cnn14", **{"model.width": 0.0625, "train.batch_size": 4, "train.crop_s": 0.4,
                                   "train.grad_clip": grad_clip})
    torch.manual_seed(0)
    model = build("cnn14", n_outputs=4, width=0.0625)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    optimizer.register_step_pre_hook(lambda opt, args, kwargs: norms.append(float(torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(p.grad) for p in model.parameters() if p.grad is not None])))))
    rng = np.random.default_rng(0)
    mels = [rng.normal(size=(60, 64)).astype(np.float32) for _ in range(8)]
    split = _Split([f"u{i}" for i in range(8)], {"log_mel": mels}, np.arange(8) % 4, pd.DataFrame(index=range(8)))
    loss = lambda output, truth: 1e4 * output.pow(2).mean()  # noqa: E731
    fit = _Fit(model, optimizer, None, loss, torch.Generator().manual_seed(1),
               torch.amp.GradScaler("cuda", enabled=False), torch.device("cpu"))
    return fit, split, config


def test_gradient_norm_is_clipped_where_the_paper_clips(one_thread):
    """Tzirakis et al.: gradient-norm clipping at 5.0, the default for wavfusion only."""
    from sertext.trial import _train_epoch

    clipped, free = [], []
    _train_epoch(*_clipping_fit(5.0, clipped))
    _train_epoch(*_clipping_fit(0.0, free))
    assert len(clipped) == len(free) == 2
    assert all(n > 5.0 for n in free)
    assert all(n == pytest.approx(5.0, rel=1e-4) for n in clipped)


def test_a_training_pass_stops_at_the_end_of_the_budget(one_thread):
    from sertext.trial import _train_epoch

    norms = []
    _train_epoch(*_clipping_fit(0.0, norms), steps=1)
    assert len(norms) == 1


def test_an_iteration_budget_counts_exact_steps_and_leaves_out_batches_of_one():
    from sertext.trial import Budget, _training_batches, training_budget

    assert _training_batches(list(range(5)), 2) == [[0, 1], [2, 3]]  # BatchNorm cannot train on one …
    assert _training_batches([7], 4) == [[7]]  # … unless it is all there is
    budget = training_budget(_resolved("textcnn", **{"train.batch_size": 4, "train.iterations": 13}), 37)
    assert budget == Budget(epochs=2, steps_per_epoch=9, iterations=13) and budget.steps == 13
    assert [budget.steps_in(epoch) for epoch in range(budget.epochs)] == [9, 4]
    assert training_budget(_resolved("textcnn", **{"train.batch_size": 4, "train.iterations": 18}), 37).epochs == 2
    paper = training_budget(_resolved("crossrep-mel"), 4400)  # §5: 1,000,000 steps of 2 utterances
    assert (paper.epochs, paper.steps, paper.steps_in(paper.epochs - 1)) == (455, 1_000_000, 1200)
    epochs = training_budget(_resolved("cnn14", **{"train.batch_size": 4, "train.epochs": 3}), 37)
    assert (epochs.steps, [epochs.steps_in(epoch) for epoch in range(epochs.epochs)]) == (27, [9, 9, 9])
    with pytest.raises(ValueError, match="give no training step"):
        training_budget(_resolved("textcnn", **{"train.batch_size": 1}), 37)


def test_adamws_linear_decay_ends_at_an_iteration_budget():
    import torch

    from sertext.trial import _optimiser

    config = _resolved("text", **{"train.optimizer": "adamw", "train.iterations": 10})
    optimizer, schedule = _optimiser(torch.nn.Linear(3, 2), config, steps_per_epoch=3)
    rates = []
    for _ in range(10):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[-1] > 0 and optimizer.param_groups[0]["lr"] == 0.0


def test_atmaja_clips_dimensional_labels_to_the_corpus_scale(iemocap_root):
    """IEMOCAP's aggregated 5.5 (valence) and 0.5 (dominance) become 5 and 1 for lstmfusion (the
    paper's §III-A); other architectures keep them unless configured."""
    import pandas as pd

    from sertext.trial import _clip_to_scale, task_table

    def table(arch, **overrides):
        return task_table(TrialConfig.from_dict({"data.root": str(iemocap_root), "data.task": "dimensional",
                                                  "model.arch": arch, **overrides}).resolved())[0]

    clipped, raw = table("lstmfusion"), table("cnn14")
    assert (raw["valence"].max(), raw["dominance"].min()) == (5.5, 0.5)
    assert (clipped["valence"].max(), clipped["dominance"].min()) == (5.0, 1.0)
    inside = raw["valence"].between(1, 5)
    assert clipped["valence"][inside].equals(raw["valence"][inside])
    assert table("lstmfusion", **{"data.clip_labels": "none"})["valence"].max() == 5.5
    assert table("cnn14", **{"data.clip_labels": "scale"})["valence"].max() == 5.0
    msp = _clip_to_scale(pd.DataFrame({"valence": [0.5, 6.5, 7.5]}), ["valence"], "msp-podcast")
    assert msp["valence"].tolist() == [1.0, 6.5, 7.0]
    with pytest.raises(ValueError, match="no label scale known"):
        _clip_to_scale(msp, ["valence"], "sewa")


def test_model_options_reach_the_built_model():
    import numpy as np
    import pandas as pd
    import torch

    from sertext.trial import _build_model, _Split

    classes = ["angry", "happy", "neutral", "sad"]
    cnn = _build_model(_resolved("mfcnn14", **{"model.width": 0.0625}), classes,
                       {"train": _Split(["u"], {"log_mel": [np.zeros((40, 64), np.float32)],
                                                "text": [np.zeros(8, np.float32)]}, np.array([0]),
                                        pd.DataFrame(index=[0]))})
    assert cnn.blocks[0].pooling == "max"
    states = _Split(["u"], {"text_states": [np.zeros((20, 384), np.float32)]}, np.array([0]), pd.DataFrame(index=[0]))
    paper = _build_model(_resolved("textcnn"), classes, {"train": states})
    code = _build_model(_resolved("textcnn", **{"model.sigmoid_outputs": True}), classes, {"train": states})
    assert not paper.sigmoid_outputs and code.sigmoid_outputs
    torch.nn.init.normal_(paper.fc.bias, std=5.0)
    assert not ((paper(torch.zeros(1, 20, 384)) > 0) & (paper(torch.zeros(1, 20, 384)) < 1)).all()


def test_speaker_probe_network_is_the_papers():
    import torch

    from sertext.trial import _probe_network

    network = _probe_network(32, 8)
    linear = [m for m in network if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(32, 2048), (2048, 1024), (1024, 1024), (1024, 8)]
    assert [type(m).__name__ for m in network] == ["Linear", "Softplus"] * 3 + ["Linear"]


def _probe_inputs(seed=0):
    """A tiny mel-input cross-representation model and 2 speakers × 6 utterances of 60-250 frames."""
    import numpy as np
    import pandas as pd
    import torch

    from sertext.models import build
    from sertext.trial import _Split

    torch.manual_seed(seed)
    model = build("crossrep-mel", n_outputs=4, bottleneck=4, downsample=48, width=1 / 32).eval()
    rng = np.random.default_rng(seed)
    lengths = [60, 96, 150, 193, 250, 120] * 2
    speakers = ["A"] * 6 + ["B"] * 6
    voices = {"A": np.full(256, 1.0, np.float32), "B": np.full(256, -1.0, np.float32)}
    inputs = {"mel": [rng.random((n, 80)).astype(np.float32) for n in lengths],
              "speaker": [voices[s] for s in speakers], "phones": [np.zeros(n, np.int64) for n in lengths]}
    split = _Split([f"u{i}" for i in range(12)], inputs, np.zeros(12, np.int64), pd.DataFrame({"speaker": speakers}))
    return model, split, lengths


def test_speaker_probe_trains_the_papers_mlp_on_every_segment_by_default(monkeypatch, one_thread):
    """Table 3 of Makiuchi et al.: by default the MLP, one step per evaluation segment of each
    training utterance for 10 epochs; ``model.probe="linear"`` the logistic regression."""
    import torch

    from sertext import trial

    calls = []
    network = trial._probe_network

    def spied(n_inputs, n_speakers):
        probe = network(n_inputs, n_speakers)
        probe.register_forward_pre_hook(lambda module, args: calls.append((torch.is_grad_enabled(), len(args[0]))))
        return probe

    monkeypatch.setattr(trial, "_probe_network", spied)
    assert trial.PROBE_EPOCHS == 10
    monkeypatch.setattr(trial, "PROBE_EPOCHS", 2)  # quicker; the count below scales with it
    model, split, lengths = _probe_inputs()
    config = _resolved("crossrep-mel")
    result = trial._speaker_probe(model, [split], config, torch.device("cpu"))
    assert set(result) == {"probe/speaker_uar", "probe/speaker_wa", "probe/speakers"}
    assert result["probe/speakers"] == 2 and 0 <= result["probe/speaker_wa"] <= 1
    segments = [max(1, n // 96 + int(n % 96 > 1)) for n in lengths]  # 1, 1, 2, 3, 3, 2 per speaker
    held_out = [n for grad, n in calls if not grad]  # one batch of all its segments per held-out utterance
    trained = [n for grad, n in calls if grad]
    assert len(held_out) == 2 and set(trained) == {1}
    assert len(trained) == trial.PROBE_EPOCHS * (sum(segments) - sum(held_out))
    assert trial._speaker_probe(model, [split], config, torch.device("cpu")) == result  # reproducible
    calls.clear()
    linear = trial._speaker_probe(model, [split], _resolved("crossrep-mel", **{"model.probe": "linear"}),
                                  torch.device("cpu"))
    assert set(linear) == set(result) and not calls


def test_evaluation_batches_keep_order_and_put_long_utterances_in_smaller_batches():
    import numpy as np
    import pandas as pd

    from sertext.config import TrialConfig
    from sertext.trial import _evaluation_batches, _Split

    lengths = [10, 12, 8, 11, 200, 9, 10, 45, 10, 10, 11, 9]
    states = [np.zeros((2, n, 3), np.float16) for n in lengths]  # crossrep's wav2vec input: time on axis 1
    split = _Split([f"u{i}" for i in range(len(lengths))], {"wav2vec": states}, np.zeros(len(lengths)), pd.DataFrame())
    config = TrialConfig.from_dict({"model.arch": "crossrep", "model.speech_model": "x", "train.batch_size": 4})
    batches = _evaluation_batches(split, config)
    assert sum(batches, []) == list(range(len(lengths)))  # every utterance once, in order
    budget = 4 * 2 * np.median(lengths)
    assert all(len(b) <= 4 and (len(b) == 1 or len(b) * max(lengths[i] for i in b) <= budget) for b in batches)
    assert batches == [[0, 1, 2, 3], [4], [5, 6], [7], [8, 9, 10, 11]]  # padded to 200 or 45: alone
    cnn = _evaluation_batches(split, TrialConfig.from_dict({"model.arch": "cnn14", "train.batch_size": 4}))
    assert cnn == [[i] for i in range(len(lengths))]  # the CNN family: one at a time
