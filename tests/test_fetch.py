"""Prediction tables fetched in parallel and cached (sertext.fetch), and the report's progress lines."""

import pandas as pd
import pytest

from sertext import aggregate, fetch, tracking
from sertext.cli import main
from tests.fixtures import write_synthetic_sweep


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    uri = f"sqlite:///{tmp_path_factory.mktemp('fetch')}/mlflow.db"
    experiment, parent = write_synthetic_sweep(uri)
    return uri, aggregate.collect_runs(uri, experiment, parent)


@pytest.mark.slow
def test_parallel_fetch_returns_the_tables_one_by_one_loading_does(sweep, tmp_path):
    uri, runs = sweep
    requests = fetch.prediction_requests(runs, ("dev", "test", "cross"))
    tables = fetch.fetch_predictions(uri, requests, cache_dir=tmp_path, workers=4, progress=False)
    assert len(tables) == 3 * sum(runs["status"] == "FINISHED")
    for request in requests:
        for split in request.splits:
            pd.testing.assert_frame_equal(tables[(request.run_id, split)],
                                          tracking.load_predictions(uri, request.run_id, split))


def test_the_cache_serves_a_second_fetch_and_refetches_a_run_that_ended_again(sweep, tmp_path, monkeypatch):
    uri, runs = sweep
    requests = fetch.prediction_requests(runs, ("test",))
    first = fetch.fetch_predictions(uri, requests, cache_dir=tmp_path, progress=False)
    calls = []
    original = tracking.client

    def counting(tracking_uri):
        calls.append(tracking_uri)
        return original(tracking_uri)

    monkeypatch.setattr(tracking, "client", counting)
    again = fetch.fetch_predictions(uri, requests, cache_dir=tmp_path, progress=False)
    assert calls == [] and all(again[key].equals(first[key]) for key in first)  # no request at all
    run = requests[0]
    changed = first[(run.run_id, "test")].assign(prediction="sad")  # the trial ran again: new tables, run ended again
    client = original(uri)
    client.update_run(run.run_id, status="RUNNING")
    _rewrite(client, run.run_id, changed, tmp_path / "upload")
    client.set_terminated(run.run_id, status="FINISHED")
    new = fetch.prediction_requests(aggregate.collect_runs(uri, *tracking.latest_sweep_run(uri, "synthetic")),
                                        ("test",))
    calls.clear()
    refetched = fetch.fetch_predictions(uri, new, cache_dir=tmp_path, progress=False)
    assert len(calls) == 1  # only the changed run went back to the store
    assert (refetched[(run.run_id, "test")]["prediction"] == "sad").all()


def _rewrite(client, run_id, table, folder):
    folder.mkdir()
    table.to_csv(folder / "test.csv", index=False)
    client.log_artifact(run_id, str(folder / "test.csv"), artifact_path="predictions")


@pytest.mark.slow
def test_the_report_shows_a_progress_bar_and_a_line_per_stage_on_stderr(tmp_path, capsys):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    write_synthetic_sweep(uri)
    assert main(["report", "--experiment", "synthetic", "--tracking-uri", uri, "--out", str(tmp_path / "r")]) == 0
    captured = capsys.readouterr()
    assert "fetching predictions" in captured.err and "fetching" not in captured.out
    for stage in ("aggregation", "statistics", "cross-corpus", "figures", "writing"):
        assert f"] {stage}: " in captured.err
    assert captured.out.startswith("synthetic: test results per model\n")
