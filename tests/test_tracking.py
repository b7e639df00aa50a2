"""MLflow tracking without Ray: one run per trial key, reopened runs, stale runs."""

import os
import random
from types import SimpleNamespace

import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from sertext import backoff, tracking


@pytest.fixture
def store(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    experiment = tracking.prepare_experiment(uri, "exp")
    parent = tracking.start_parent_run(uri, experiment, "exp", {"archs": ["cnn14"]})
    return uri, experiment, parent


def _run(store, key="k1", run_id=None):
    uri, experiment, parent = store
    return tracking.TrialRun(uri, experiment, parent, key, "cnn14-Ses01F-seed0",
                             {"arch": "cnn14", "fold": "Ses01F", "seed": 0}, {"train.lr": 0.01}, run_id=run_id)


def _result():
    predictions = pd.DataFrame({"utt_id": ["a", "b"], "truth": ["sad", "angry"], "prediction": ["sad", "sad"],
                                "prob_angry": [0.1, 0.2], "prob_happy": [0.1, 0.1], "prob_neutral": [0.1, 0.1],
                                "prob_sad": [0.7, 0.6]})
    return SimpleNamespace(metrics={"dev/uar": 0.5, "test/uar": 0.5}, best_epoch=1, history=[{}, {}, {}],
                           predictions={"dev": predictions, "test": predictions})


def test_a_trial_key_maps_to_one_run_that_is_reopened(store):
    uri, experiment, parent = store
    first = _run(store)
    first.log_metrics({"dev/uar": 0.3}, step=0)
    first.fail()
    again = _run(store)
    assert again.run_id == first.run_id and not again.finished
    assert MlflowClient(uri).get_run(first.run_id).info.status == "RUNNING"
    again.finish(_result())
    history = MlflowClient(uri).get_metric_history(first.run_id, "dev/uar")
    assert sorted((m.step, m.value) for m in history) == [(0, 0.3), (3, 0.5)]  # final after the 3 epochs
    assert MlflowClient(uri).get_run(first.run_id).data.metrics["dev/uar"] == 0.5
    done = _run(store)
    assert done.finished and done.final_metrics["test/uar"] == 0.5
    assert len(tracking.child_runs(uri, experiment, parent)) == 1
    assert _run(store, key="k2").run_id != first.run_id


def test_contract_tags_params_and_artifacts(store):
    uri, _, parent = store
    run = _run(store)
    run.finish(_result())
    stored = MlflowClient(uri).get_run(run.run_id)
    assert stored.data.tags["sertext.kind"] == "trial"
    assert stored.data.tags["mlflow.parentRunId"] == parent
    assert stored.data.params["train.lr"] == "0.01"
    assert stored.data.metrics["best_epoch"] == 1
    paths = {a.path for a in MlflowClient(uri).list_artifacts(run.run_id)}
    assert paths == {"predictions", "confusion_matrix.png"}


def test_stale_running_runs_are_marked_killed(store):
    uri, experiment, parent = store
    run = _run(store)
    assert tracking.mark_stale_runs_killed(uri, experiment, parent) == 1
    assert MlflowClient(uri).get_run(run.run_id).info.status == "KILLED"
    assert tracking.mark_stale_runs_killed(uri, experiment, parent) == 0


def test_default_store_is_absolute_sqlite_in_the_project():
    uri = tracking.default_tracking_uri()
    assert uri.startswith("sqlite:////") and uri.endswith("/mlflow/mlflow.db")


def test_a_retried_create_whose_reply_was_lost_makes_no_second_run(store, monkeypatch):
    """A server stopped after storing a new run but before replying: the retry finds that run."""
    uri, experiment, parent = store
    create = MlflowClient.create_run

    def reply_lost_once(self, *args, **kwargs):
        run = create(self, *args, **kwargs)
        if not lost:
            lost.append(run.info.run_id)
            raise ConnectionError("Connection aborted: remote end closed connection without response")
        return run

    lost = []
    monkeypatch.setattr(tracking.time, "sleep", lambda s: None)
    monkeypatch.setattr(MlflowClient, "create_run", reply_lost_once)
    run = _run(store)
    assert [r.info.run_id for r in tracking.child_runs(uri, experiment, parent)] == lost == [run.run_id]


def test_transient_errors_are_retried_with_full_jitter(monkeypatch):
    """Sleeps are uniform in [0, cap], the cap doubling from 0.5 s: the same as a seeded draw."""
    waits, calls = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 4:
            raise MlflowException("RESOURCE_EXHAUSTED: 400 BAD_REQUEST: QueuePool limit of size 5 overflow 10 "
                                  "reached, connection timed out, timeout 30.00")
        return "ok"

    assert backoff.retry(flaky, sleep=waits.append, rng=random.Random(7)) == "ok"
    expected = random.Random(7)
    assert waits == [expected.uniform(0, cap) for cap in (0.5, 1.0, 2.0)]
    assert len(set(waits)) == 3 and all(0 <= w <= cap for w, cap in zip(waits, (0.5, 1.0, 2.0), strict=True))


def test_a_non_transient_error_is_raised_at_once():
    waits, calls = [], []

    def bad_parameter():
        calls.append(1)
        raise MlflowException("INVALID_PARAMETER_VALUE: Changing param values is not allowed")

    with pytest.raises(MlflowException, match="Changing param values"):
        backoff.retry(bad_parameter, sleep=waits.append, rng=random.Random(0))
    with pytest.raises(KeyError):
        backoff.retry(lambda: {}["missing"], sleep=waits.append)
    assert calls == [1] and waits == []


@pytest.mark.parametrize("message", ["API request to http://h/api/2.0/mlflow/runs/create failed with exception "
                                     "HTTPConnectionPool(host='h', port=5000): Max retries exceeded with url: x "
                                     "(Caused by ResponseError('too many 503 error responses'))",
                                     "(sqlite3.OperationalError) database is locked",
                                     "FATAL: sorry, too many clients already",
                                     "API request to endpoint /api failed with error code 429 != 200"])
def test_busy_server_answers_are_transient(message):
    assert backoff.is_transient(MlflowException(message))
    assert backoff.is_transient(ConnectionRefusedError("refused"))
    assert not backoff.is_transient(MlflowException("RESOURCE_DOES_NOT_EXIST: Run 'abc' not found"))


def test_attempts_and_total_wait_are_bounded():
    down = ConnectionError("Connection refused")

    def always_down():
        calls.append(1)
        raise down

    calls, waits = [], []
    with pytest.raises(ConnectionError):
        backoff.retry(always_down, backoff=backoff.Backoff(attempts=5, total_wait_s=1000), sleep=waits.append,
                      rng=random.Random(1))
    assert len(calls) == 5 and len(waits) == 4  # no sleep after the last attempt
    calls, waits = [], []
    with pytest.raises(ConnectionError):
        backoff.retry(always_down, backoff=backoff.Backoff(attempts=100, max_cap_s=30, total_wait_s=60),
                      sleep=waits.append, rng=random.Random(1))
    assert sum(waits) == pytest.approx(60) and len(calls) == len(waits) + 1 < 100
    assert max(backoff.DEFAULT_BACKOFF.cap_s(k) for k in range(50)) == backoff.DEFAULT_BACKOFF.max_cap_s


def test_mlflow_http_retries_are_off_so_the_layers_do_not_multiply(monkeypatch):
    monkeypatch.setenv(backoff.HTTP_RETRIES_VARIABLE, "7")  # so that teardown restores the original state
    monkeypatch.delenv(backoff.HTTP_RETRIES_VARIABLE)
    tracking.client("http://127.0.0.1:9")  # nothing listens: a client is made without a request
    assert os.environ[backoff.HTTP_RETRIES_VARIABLE] == "0"
    monkeypatch.setenv(backoff.HTTP_RETRIES_VARIABLE, "3")  # the user's own choice is kept
    tracking.client("http://127.0.0.1:9")  # nothing listens: a client is made without a request
    assert os.environ[backoff.HTTP_RETRIES_VARIABLE] == "3"


def test_runs_url_opens_the_runs_table_not_the_genai_overview():
    assert tracking.runs_url("sqlite:////data/mlflow.db", "3") == (
        "http://127.0.0.1:5000/#/experiments/3/runs?viewStateShareKey=sertext-runs-by-arch"
        "&workflowType=machine_learning")
    assert tracking.runs_url("sqlite:////data/mlflow.db", "3", port=5001, view=None) == (
        "http://127.0.0.1:5001/#/experiments/3/runs?workflowType=machine_learning")
    # a server: its own address, with its path, without user name and password (the browser asks)
    assert tracking.runs_url("https://ana:s3cret@mlflow.lab/ml/", "7", view=None) == (
        "https://mlflow.lab/ml/#/experiments/7/runs?workflowType=machine_learning")


def test_look_at_runs_prints_the_ui_command_and_a_link_to_the_runs_grouped_by_arch(store):
    import json

    uri, experiment, parent = store
    _run(store).finish(_result())
    lines = tracking.look_at_runs(uri, experiment).splitlines()
    assert lines == [f"look at the runs:  mlflow ui --backend-store-uri {uri} --port 5000",
                     f"then open:         {tracking.runs_url(uri, experiment)}"]
    saved = MlflowClient(uri).get_experiment(experiment).tags[f"mlflow.sharedViewState.{tracking.RUNS_VIEW}"]
    view = json.loads(saved)
    assert view["name"] == "runs by arch" and isinstance(view["createdAt"], int)
    state = json.loads(view["state"])
    assert state["groupBy"]["groupByKeys"] == [{"mode": "tag", "groupByData": "arch"}]
    assert state["selectedColumns"] == ["tags.`fold`", "tags.`seed`", "metrics.`test/uar`"]
    tracking.look_at_runs(uri, experiment)  # again: the same view, replaced, not a second one
    tags = MlflowClient(uri).get_experiment(experiment).tags
    assert [key for key in tags if key.startswith("mlflow.sharedViewState.")] == [
        f"mlflow.sharedViewState.{tracking.RUNS_VIEW}"]


def test_look_at_runs_on_a_server_is_the_link_alone_and_survives_a_refused_view(monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError("read-only")

    monkeypatch.setattr(tracking, "save_runs_view", refuse)
    printed = tracking.look_at_runs("http://ana:s3cret@mlflow.lab:5000", "4")
    assert printed == "look at the runs:  http://mlflow.lab:5000/#/experiments/4/runs?workflowType=machine_learning"


def test_runs_stopped_early_are_tagged_and_killed_not_failed(store):
    uri, experiment, parent = store
    finished, running, other = (_run(store, key) for key in ("k1", "k2", "k3"))
    tracking.end_run(uri, finished.run_id)
    assert tracking.mark_stopped_early(uri, experiment, parent, ["k1", "k2"]) == 2
    client = MlflowClient(uri)
    statuses = {run.run_id: client.get_run(run.run_id) for run in (finished, running, other)}
    assert statuses[finished.run_id].info.status == "FINISHED"  # its candidate was stopped after it
    assert statuses[running.run_id].info.status == "KILLED"
    assert statuses[other.run_id].info.status == "RUNNING"
    assert [run.data.tags.get(tracking.STOPPED_TAG) for run in statuses.values()] == ["true", "true", None]
    interrupted = _run(store, "k4")  # ended from outside: by the scheduler, or by its driver's death
    interrupted.interrupt()
    run = client.get_run(interrupted.run_id)
    assert run.info.status == "KILLED" and tracking.STOPPED_TAG not in run.data.tags  # only the driver tags


def test_a_stopped_run_trained_again_is_no_longer_stopped_early(store):
    uri, experiment, parent = store
    first = _run(store, "k1")
    tracking.mark_stopped_early(uri, experiment, parent, ["k1"])
    again = _run(store, "k1")  # the relaunch reopens the run of the same trial key
    assert again.run_id == first.run_id
    run = MlflowClient(uri).get_run(again.run_id)
    assert run.info.status == "RUNNING" and run.data.tags[tracking.STOPPED_TAG] == "false"
