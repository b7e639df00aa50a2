"""The registry declares each paper's training and model choices (the paper's by default) and the
public code's departures as trial-config overrides."""

import pytest

from sertext.config import TrialConfig
from sertext.models import ARCHITECTURES


def _resolved(arch, **overrides):
    return TrialConfig.from_dict({"model.arch": arch, "model.speech_model": "w2v", **overrides}).resolved()


@pytest.mark.parametrize("arch", ["crossrep", "crossrep-mel", "textcnn"])
def test_makiuchi_trains_with_the_plain_cross_entropy_of_eq_3(arch):
    assert ARCHITECTURES[arch].training.class_weights == "none"
    assert _resolved(arch).train.class_weights == "none"


@pytest.mark.parametrize(("arch", "iterations", "batch_size"), [
    ("crossrep", 1_000_000, 2), ("crossrep-mel", 1_000_000, 2), ("textcnn", 412_800, 4)])
def test_makiuchi_trains_all_training_sessions_for_the_papers_iterations_and_evaluates_the_last_model(
        arch, iterations, batch_size):
    """§5: the speech model 1,000,000 iterations at batch 2, the text CNN 412,800 at batch 4, no dev set."""
    config = _resolved(arch, **{"data.protocol": "iemocap-loso-session"})
    assert (config.train.iterations, config.train.epochs, config.train.batch_size) == (iterations, None, batch_size)
    assert (config.train.selection, config.data.dev_fraction) == ("last", 0.0)


@pytest.mark.parametrize(("arch", "epochs"), [
    ("cnn14", 60), ("sfcnn14", 60), ("mfcnn14", 60), ("text", 4), ("lstmfusion", 50), ("wavfusion", 50)])
def test_the_other_papers_train_for_epochs_and_keep_the_best_dev_epoch(arch, epochs):
    config = _resolved(arch, **{"data.protocol": "iemocap-loso-session"})
    assert (config.train.epochs, config.train.iterations) == (epochs, None)
    assert (config.train.selection, config.data.dev_fraction) == ("dev", 0.2)


def test_a_papers_budget_is_epochs_or_iterations():
    from sertext.models.registry import Training

    with pytest.raises(ValueError, match="exactly one"):
        Training("adam", batch_size=2, lr=1e-4)
    with pytest.raises(ValueError, match="exactly one"):
        Training("adam", batch_size=2, lr=1e-4, epochs=3, iterations=30)
    with pytest.raises(ValueError, match="selection must be one of"):
        Training("adam", batch_size=2, lr=1e-4, epochs=3, selection="best")


@pytest.mark.parametrize("arch", ["cnn14", "sfcnn14", "mfcnn14", "text", "lstmfusion", "wavfusion"])
def test_the_multistage_papers_weighted_cross_entropy_elsewhere(arch):
    """The CNN14 paper weighs by inverse class frequency; Atmaja's and Tzirakis' papers are regression
    only, so a categorical run of theirs follows the CNN14 paper's protocol."""
    assert _resolved(arch).train.class_weights == "inverse_frequency"


def test_tzirakis_trains_as_the_paper_and_the_tf_code_is_an_override():
    paper = _resolved("wavfusion").train
    assert (paper.optimizer, paper.lr, paper.batch_size, paper.betas, paper.grad_clip) == \
        ("adam", 1e-4, 25, (0.9, 0.999), 5.0)
    code = _resolved("wavfusion", **ARCHITECTURES["wavfusion"].public_code).train
    assert (code.optimizer, code.lr, code.batch_size, code.betas, code.grad_clip) == \
        ("adam", 5e-4, 5, (0.9, 0.99), 0.0)


@pytest.mark.parametrize("arch", [a for a in ARCHITECTURES if a != "wavfusion"])
def test_no_other_paper_clips_gradients(arch):
    assert _resolved(arch).train.grad_clip is None


def test_atmaja_clips_labels_to_the_scale_and_keeps_rmsprop_for_the_fusion_network():
    lstm = _resolved("lstmfusion")
    assert lstm.data.clip_labels == "scale" and lstm.train.optimizer == "rmsprop"
    assert _resolved("lstmfusion", **{"model.modalities": "audio", "train.optimizer": "nadam"}).train.optimizer \
        == "nadam"
    assert all(_resolved(a).data.clip_labels == "none" for a in ARCHITECTURES if a != "lstmfusion")


def test_the_text_baseline_trains_with_bert_adam_and_a_1000_step_schedule():
    text = _resolved("text").train
    assert (text.optimizer, text.lr, text.betas, text.schedule_steps, text.warmup_steps) == \
        ("bertadam", 2e-5, (0.9, 0.999), 1000, 100)


def test_text_cnn_public_code_overrides():
    code = _resolved("textcnn", **ARCHITECTURES["textcnn"].public_code)
    assert code.model.sigmoid_outputs and code.model.token_positions == "drop_first_last"
    paper = _resolved("textcnn")
    assert not paper.model.sigmoid_outputs and paper.model.token_positions == "tokens"


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_public_code_override_is_a_valid_trial_config(arch):
    TrialConfig.from_dict({"model.arch": arch, "model.speech_model": "w2v", **ARCHITECTURES[arch].public_code})


def test_model_options_reach_the_models_that_take_them():
    for arch in ("cnn14", "sfcnn14", "mfcnn14"):
        assert "pooling" in ARCHITECTURES[arch].options
    assert "sigmoid_outputs" in ARCHITECTURES["textcnn"].options
