"""The `sertext` command: demo-corpus and check-corpus as a user runs them."""

import subprocess
import sys

import pytest

from sertext.cli import build_parser, main, train_config
from sertext.config import parse_set


def test_check_corpus_prints_counts_and_problems(iemocap_root, emotyda_dir, capsys):
    assert main(["check-corpus", "iemocap", str(iemocap_root), "--dialogue-acts", str(emotyda_dir)]) == 0
    out = capsys.readouterr().out
    assert "18 utterances, 10 speakers" in out
    assert "four-class set (excited merged into happy): 16 utterances" in out
    assert "angry 3, happy 5, neutral 4, sad 4" in out
    assert "note  xx_transcript_line: 3" in out
    assert "note  unmatched_transcript_line: 1" in out
    assert "dialogue acts: 16 of 18 utterances" in out


def test_check_corpus_exits_1_and_lists_every_error(iemocap_root, capsys):
    for utt in ("Ses02M_impro02_F000", "Ses02M_impro02_M000"):
        (iemocap_root / f"Session2/sentences/wav/Ses02M_impro02/{utt}.wav").unlink()
    assert main(["check-corpus", "iemocap", str(iemocap_root)]) == 1
    out = capsys.readouterr().out
    assert "error missing_wav: 2" in out.replace("  ", " ")
    assert out.count("is missing") == 2


def test_check_corpus_msp(msp_root, capsys):
    assert main(["check-corpus", "msp-podcast", str(msp_root)]) == 0
    out = capsys.readouterr().out
    assert "9 utterances" in out and "Test3" in out and "Development" in out


def test_missing_root_is_a_one_line_error(tmp_path, capsys):
    assert main(["check-corpus", "iemocap", str(tmp_path / "nowhere")]) == 2
    assert "No Session1..Session5 folders" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("scale", [[], ["--scale", "iemocap"]], ids=["default", "iemocap-shape"])
def test_demo_corpus_command_end_to_end(tmp_path, scale):
    out = tmp_path / "demo"
    run = subprocess.run([sys.executable, "-m", "sertext.cli", "demo-corpus", "--out", str(out),
                          "--utterances", "60", "--quiet", *scale], capture_output=True, text=True, check=True)
    assert "Demo corpus ready" in run.stdout and "(60 utterances" in run.stdout
    check = subprocess.run([sys.executable, "-m", "sertext.cli", "check-corpus", "iemocap", str(out),
                            "--dialogue-acts", str(out / "EMOTyDA")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "60 utterances, 10 speakers" in check.stdout


def test_demo_corpus_scale_is_explained_and_tiny_corpora_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo-corpus", "--help"])
    assert "--scale {iemocap}" in capsys.readouterr().out
    assert main(["demo-corpus", "--out", str(tmp_path / "demo"), "--scale", "iemocap", "--utterances", "59"]) == 2
    assert "needs at least 60 utterances, got 59" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


def test_features_for_an_architecture_fill_the_cache(iemocap_root, tmp_path, capsys):
    cache = tmp_path / "cache"
    assert main(["features", "iemocap", str(iemocap_root), "--arch", "lstmfusion", "--cache-dir", str(cache),
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "acoustic_stats: 18 utterances ready" in out and "word_sequence: 18 utterances ready" in out
    assert {p.name for p in cache.iterdir()} == {"acoustic-stats", "words"}


def test_help_explains_every_command():
    run = subprocess.run([sys.executable, "-m", "sertext.cli", "--help"], capture_output=True, text=True)
    assert "demo-corpus" in run.stdout and "check-corpus" in run.stdout


@pytest.mark.parametrize(("item", "expected"), [
    ("train.crop_s=3", 3),
    ("train.lr=0.005", 0.005),
    ("train.lr=-1e-3", -1e-3),
    ("train.bn_recalibration=true", True),
    ("train.bn_recalibration=false", False),
    ("model.pretrained=null", None),
    ("train.loss_weights=[0.7, 0.2, 0.1]", [0.7, 0.2, 0.1]),
    ('model.text_model="bert-base-uncased"', "bert-base-uncased"),
    ("data.normalise=none", "none"),
    ("data.normalise=speaker", "speaker"),
    ("model.speech_model=facebook/wav2vec2-base", "facebook/wav2vec2-base"),
    ("model.text_model=t5-small", "t5-small"),
    ("model.word_vectors=/data/glove.6B.300d.txt", "/data/glove.6B.300d.txt"),
    ("model.fusion=", ""),
    ("data.root=/x/a=b", "/x/a=b"),
])
def test_set_values_are_json_where_json_else_plain_strings(item, expected):
    assert parse_set(item) == (item.split("=", 1)[0], expected)


def test_set_without_a_value_is_a_one_line_error(iemocap_root, capsys):
    assert main(["train", "--root", str(iemocap_root), "--set", "data.normalise"]) == 2
    assert "write KEY=VALUE" in capsys.readouterr().err


def test_train_takes_set_values_that_look_like_json_literals(iemocap_root):
    args = build_parser().parse_args([
        "train", "--root", str(iemocap_root), "--arch", "crossrep",
        "--set", "model.speech_model=facebook/wav2vec2-base", "--set", "data.normalise=none",
        "--set", "train.crop_s=3", "--set", "train.bn_recalibration=true"])
    config = train_config(args, args.root)
    assert config.model.speech_model == "facebook/wav2vec2-base"
    assert config.data.normalise == "none"
    assert config.train.crop_s == 3 and config.train.bn_recalibration is True
