"""What every sweep script shares: the paper's models on a real corpus, and the command line's
models and ``--set`` over the script's own settings."""

import argparse

import pytest

from sertext.sweep import command_line_sweep, sweep_parser
from sertext.sweep.scripts import add_model_options

FIELDS = dict(name="s", archs=("cnn14", "text", "mfcnn14"), seeds=(0,))


def parse(*argv):
    parser = sweep_parser("test")
    add_model_options(parser, speech=True)
    return parser.parse_args(list(argv))


def test_a_real_corpus_trains_each_papers_models_by_their_hugging_face_ids():
    sweep = command_line_sweep(parse(), root="/data/IEMOCAP_full_release", **FIELDS)
    assert sweep.per_arch == {"text": {"model.text_model": "bert-base-uncased"},
                              "mfcnn14": {"model.text_model": "bert-base-uncased"}}
    makiuchi = command_line_sweep(parse(), root="/data", name="b", archs=("crossrep", "textcnn"), seeds=(0,))
    assert makiuchi.per_arch == {"crossrep": {"model.speech_model": "facebook/wav2vec2-large-lv60"},
                                 "textcnn": {"model.text_model": "bert-large-uncased"}}


def test_the_demo_keeps_the_offline_models():
    sweep = command_line_sweep(parse("--demo"), demo=True, per_arch={"text": {"train.epochs": 1}}, **FIELDS)
    assert sweep.per_arch == {"text": {"train.epochs": 1}} and "model.text_model" not in sweep.fixed


def test_model_options_and_set_win_over_the_scripts_own_settings():
    args = parse("--text-model", "/models/bert", "--set", "train.epochs=2", "--set", "model.width=0.5",
                 "--asr-model", "pocketsphinx")
    sweep = command_line_sweep(args, root="/data", fixed={"model.width": 0.25},
                               per_arch={"text": {"train.epochs": 1, "train.lr": 1e-4}}, **FIELDS)
    assert sweep.fixed == {"model.width": 0.5, "model.text_model": "/models/bert", "train.epochs": 2,
                           "data.asr_model": "pocketsphinx"}
    assert sweep.per_arch == {"text": {"train.lr": 1e-4}}  # the paper's model and the script's epochs gave way


@pytest.mark.parametrize(("argv", "message"), [
    (("--set", "data.fold=Ses01F"), "--set data.fold: the sweep sets it from folds (--folds)"),
    (("--set", "train.loss=mse"), "train.loss: the sweep varies it (variants)"),
    (("--set", "train.lr"), "write KEY=VALUE"),
    (("--set", "train.learning_rate=0.1"), "did you mean train.lr?"),
])
def test_a_setting_the_sweep_owns_or_a_typo_is_refused_in_one_line(argv, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        command_line_sweep(parse(*argv), root="/data", task="dimensional", metric="dev/ccc",
                           variants=({"train.loss": "ccc"}, {"train.loss": "mse", "data.targets": ["valence"]}),
                           **FIELDS)


def test_every_option_has_help():
    parser = sweep_parser("test")
    add_model_options(parser, speech=True)
    assert all(action.help for action in parser._actions if not isinstance(action, argparse._HelpAction))
