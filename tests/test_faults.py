"""Faults of a real cluster during a sweep: a worker node dies, the tracking server restarts.

Each test runs a small CNN14 sweep on its own two-node Ray cluster and checks that nothing is lost
or duplicated: one FINISHED MLflow run per trial, every metric, parameter and artifact, and (CPU
training is deterministic) the same numbers as an undisturbed run.
"""

import json
import re
import socket
import threading
import time

import pytest
from mlflow.tracking import MlflowClient

from sertext import aggregate
from sertext.sweep import run_sweep
from tests.fixtures import TINY, sweep_config, sweep_runs

EPOCHS = 4
SETTINGS = {**TINY, "train.epochs": EPOCHS}


def _when(condition, action, timeout_s=300):
    """A thread that runs ``action`` once ``condition()`` holds (polled; errors while the store is
    unreachable count as "not yet"), recording when it did."""
    done = []

    def watch():
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            try:
                if condition():
                    done.append(time.time())
                    action()
                    done.append(time.time())
                    return
            except Exception:
                pass
            time.sleep(0.3)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread, done


def _wait_for_a_metric_logged_since(port, since_s, timeout_s=120):
    """Hold the stopped server's port until a trial tries to log a metric stamped at or after
    ``since_s``; whether one did.  Every request gets 503 Service Unavailable, as from a proxy in
    front of a restarting server, so the clients retry it as they retry a refused connection."""
    deadline = time.monotonic() + timeout_s
    while True:  # the server's last process may still hold the port for a moment
        try:
            listener = socket.create_server(("127.0.0.1", port))
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    with listener:
        listener.settimeout(0.5)
        while time.monotonic() < deadline:
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                try:
                    connection.settimeout(10)
                    request_line, body = _read_request(connection)
                    connection.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                       b"Connection: close\r\n\r\n")
                except OSError:
                    continue
            if "/runs/log-batch" in request_line and any(
                    int(metric["timestamp"]) >= 1000 * since_s for metric in json.loads(body).get("metrics", [])):
                return True
    return False


def _read_request(connection):
    """``(request line, body)`` of one HTTP request."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("the client closed the connection mid-request")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"^content-length:\s*(\d+)", head, re.IGNORECASE | re.MULTILINE)
    while length and len(body) < int(length[1]):
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("the client closed the connection mid-request")
        body += chunk
    return head.split(b"\r\n", 1)[0].decode("latin-1"), body or b"{}"


def _trial_runs(uri, name):
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(name)
    return client.search_runs([experiment.experiment_id], "tags.`sertext.kind` = 'trial'") if experiment else []


def _curves(uri, runs):
    """``{(fold, seed): sorted (step, value) pairs of dev/uar}``: the whole logged history."""
    client = MlflowClient(uri)
    return {(r.data.tags["fold"], r.data.tags["seed"]): sorted(
        {(m.step, m.value) for m in client.get_metric_history(r.info.run_id, "dev/uar")}) for r in runs}


def _assert_one_finished_run_per_trial(runs, trials):
    keys = [r.data.tags["sertext.trial_key"] for r in runs]
    assert len(keys) == len(set(keys)) == trials
    assert {r.info.status for r in runs} == {"FINISHED"}


@pytest.mark.slow
@pytest.mark.ray
def test_a_worker_node_killed_mid_sweep_loses_nothing(tiny_demo_root, tmp_path, cluster):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    grid = dict(seeds=(0, 1), fixed=SETTINGS, tracking_uri=uri)
    run_sweep(*sweep_config("undisturbed", tiny_demo_root, tmp_path, **grid))

    worker = cluster.worker_nodes.copy().pop()
    head_id = cluster.head_node.node_id

    def a_trial_on_the_worker_is_mid_way():
        client = MlflowClient(uri)
        return any(r.info.status == "RUNNING" and r.data.tags.get("ray_node", head_id) != head_id
                   and client.get_metric_history(r.info.run_id, "dev/uar")
                   for r in _trial_runs(uri, "disturbed"))

    killer, killed = _when(a_trial_on_the_worker_is_mid_way, lambda: cluster.remove_node(worker))
    run_sweep(*sweep_config("disturbed", tiny_demo_root, tmp_path, **grid))
    killer.join()
    assert killed, "the worker node was never killed mid-trial"

    expected, runs = (sweep_runs(uri, name)[1] for name in ("undisturbed", "disturbed"))
    _assert_one_finished_run_per_trial(runs, 4)
    assert {r.data.tags["ray_node"] for r in runs} == {head_id}  # the worker's trial was retried on the head
    assert _curves(uri, runs) == _curves(uri, expected)
    tables = [aggregate.summarise_sweep(uri, name) for name in ("undisturbed", "disturbed")]
    assert tables[1].summary.equals(tables[0].summary) and tables[1].per_seed.equals(tables[0].per_seed)


@pytest.mark.slow
@pytest.mark.ray
def test_a_tracking_server_restarted_mid_sweep_loses_and_duplicates_nothing(tiny_demo_root, tmp_path, cluster,
                                                                            mlflow_server):
    url = mlflow_server.url

    def an_epoch_was_logged():
        client = MlflowClient(url)
        return any(client.get_metric_history(r.info.run_id, "dev/uar") for r in _trial_runs(url, "restarted"))

    sent = []

    def restart():
        stopped = time.time()
        mlflow_server.stop()
        sent.append(_wait_for_a_metric_logged_since(mlflow_server.port, stopped))  # trials keep training meanwhile
        mlflow_server.start()

    restarter, outage = _when(an_epoch_was_logged, restart)
    run_sweep(*sweep_config("restarted", tiny_demo_root, tmp_path, seeds=(0, 1), fixed=SETTINGS, tracking_uri=url))
    restarter.join()
    assert len(outage) == 2, "the server was never restarted mid-sweep"
    assert sent == [True], "no trial tried to log a metric while the server was down"

    parent, runs = sweep_runs(url, "restarted")
    assert parent.info.status == "FINISHED"
    _assert_one_finished_run_per_trial(runs, 4)
    client = MlflowClient(url)
    stopped, started = (1000 * t for t in outage)
    during_outage = 0
    for run in runs:
        assert len(run.data.params) == len(runs[0].data.params) > 30
        history = client.get_metric_history(run.info.run_id, "dev/uar")
        assert sorted(m.step for m in history) == list(range(EPOCHS + 1))  # every epoch once, then the final
        during_outage += sum(stopped <= m.timestamp <= started for m in history)
        assert {"test/uar", "test/wa", "test/f1_macro", "best_epoch"} <= set(run.data.metrics)
        names = {a.path for a in client.list_artifacts(run.info.run_id, "predictions")}
        assert names == {"predictions/dev.csv", "predictions/test.csv"}
        assert "confusion_matrix.png" in {a.path for a in client.list_artifacts(run.info.run_id)}
    assert during_outage > 0, "no metric was logged while the server was down"
    assert {"report/report.md", "report/report.html"} <= {
        a.path for a in client.list_artifacts(parent.info.run_id, "report")}
