"""The tracking server on PostgreSQL, as a cluster head runs it (cluster/head-postgres.sh): a real
PostgreSQL of the test's own (tests/postgres.py), ``mlflow/server.sh --backend
postgresql+psycopg2://...`` on it, a sweep whose trials log from two Ray nodes, and ``sertext
report`` reading it back.

The sweep is the cheapest one the other sweep tests run (tests/fixtures.py ``sweep_config``: tiny
CNN14, two folds, one seed).
"""

import os

import pytest
from mlflow.tracking import MlflowClient

from sertext.cli import main
from sertext.sweep import run_sweep
from tests.fixtures import sweep_config, sweep_runs
from tests.postgres import Postgres, PostgresMlflowServer, missing, process_text

SWEEP = "on-postgres"


@pytest.fixture
def postgres():
    reason = missing()
    if reason:
        pytest.skip(reason)
    server = Postgres()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_mlflow(postgres, tmp_path):
    server = PostgresMlflowServer(postgres, tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.mark.slow
@pytest.mark.ray
def test_a_sweep_and_its_report_through_a_server_on_postgresql(tiny_demo_root, tmp_path, cluster, postgres,
                                                               postgres_mlflow):
    url = postgres_mlflow.url
    run_sweep(*sweep_config(SWEEP, tiny_demo_root, tmp_path, tracking_uri=url))

    parent, runs = sweep_runs(url, SWEEP)
    assert parent.info.status == "FINISHED"
    assert sorted(r.data.tags["fold"] for r in runs) == ["Ses01F", "Ses02F"]
    assert {r.info.status for r in runs} == {"FINISHED"}
    # The store behind the server is this PostgreSQL: the runs are rows of its tables.
    assert dict(postgres.query("SELECT run_uuid, status FROM runs")) == {
        run.info.run_id: "FINISHED" for run in (parent, *runs)}
    logged = {a.path for a in MlflowClient(url).list_artifacts(parent.info.run_id, "report")}
    assert {"report/report.md", "report/report.html"} <= logged

    out = tmp_path / "report"
    assert main(["report", "--experiment", SWEEP, "--tracking-uri", url, "--out", str(out)]) == 0
    assert "| CNN14 | 1 × 2 |" in (out / "report.md").read_text()
    assert (out / "report.html").is_file()

    # The password reached the server only through the pgpass file.
    members = postgres_mlflow.members()
    assert members and "--backend-store-uri postgresql+psycopg2://sertext@127.0.0.1:" in " ".join(members.values())
    assert not [pid for pid in members if postgres.password in process_text(pid)]
    assert os.stat(postgres.pgpass).st_mode & 0o777 == 0o600
