"""MLflow tracking: experiment per sweep, parent run per sweep, one child run per trial.

The only module that imports mlflow.  Everything goes through ``MlflowClient`` with explicit run
ids (no global "active run"), so a trial can reopen *its* run after a retry or a resumed sweep:
child runs are found by their ``sertext.trial_key`` tag under the parent run, which guarantees one
run per trial however often it is restarted.

Contract (DESIGN.md): parent tagged ``sertext.kind=sweep``; children tagged ``sertext.kind=trial``
plus ``arch``, ``fold``, ``seed``, ``task``, ``corpus``, ``protocol``; every config value a param;
per-epoch dev metrics with ``step=epoch``; final metrics under the trial's keys; artifacts
``predictions/dev.csv``, ``predictions/test.csv`` and, for classification,
``confusion_matrix.png``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.tracking import MlflowClient

from sertext.backoff import quiet_http_retries, retry

PROJECT_ROOT = Path(__file__).resolve().parent.parent
KIND_TAG = "sertext.kind"
TRIAL_KEY_TAG = "sertext.trial_key"
SWEEP_TAG = "sertext.sweep"
STOPPED_TAG = "sertext.stopped_early"  # a trial the scheduler stopped early (ASHA)
_MAX_PARAM_LENGTH = 6000


def default_tracking_uri() -> str:
    """SQLite under ``mlflow/`` in the project (absolute, so Ray trials find it too)."""
    return f"sqlite:///{PROJECT_ROOT / 'mlflow' / 'mlflow.db'}"


UI_PORT = 5000
RUNS_VIEW = "sertext-runs-by-arch"  # saved view in each sweep's experiment (see save_runs_view)
_VIEW_TAG_PREFIX = "mlflow.sharedViewState."  # where the MLflow 3 UI keeps an experiment's saved views


def _is_server(tracking_uri: str) -> bool:
    return tracking_uri.startswith(("http://", "https://"))


def ui_command(tracking_uri: str, port: int = UI_PORT) -> str:
    """The command that starts the MLflow UI on a store (a tracking server serves its own UI)."""
    if _is_server(tracking_uri):
        return f"open {redact(tracking_uri)} in a browser"
    return f"mlflow ui --backend-store-uri {redact(tracking_uri)} --port {port}"


def runs_url(tracking_uri: str, experiment_id: str, port: int = UI_PORT, view: str | None = RUNS_VIEW) -> str:
    """The UI address that opens an experiment on its runs table.

    MLflow 3.17's UI opens on its GenAI pages: ``/`` is the home page and ``#/experiments/<id>``
    the experiment's GenAI overview (traces, token usage).  ``#/experiments/<id>/runs`` is the runs
    table; ``workflowType=machine_learning`` switches the sidebar to *Model training* (Runs, Models,
    Traces, Model registry); ``viewStateShareKey=<view>`` opens a saved view of the experiment
    (:func:`save_runs_view`: the runs grouped by ``arch``).  For a SQLite or file store the UI is
    the one that :func:`ui_command` starts, on 127.0.0.1:``port``; for a tracking server it is the
    server itself, without the user name and password (the browser asks for them).
    """
    if _is_server(tracking_uri):
        parts = urlsplit(tracking_uri)
        base = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2], query="", fragment=""))
    else:
        base = f"http://127.0.0.1:{port}"
    query = f"viewStateShareKey={view}&workflowType=machine_learning" if view else "workflowType=machine_learning"
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?{query}"


def save_runs_view(tracking_uri: str, experiment_id: str, group_by: str = "arch", name: str = RUNS_VIEW) -> str:
    """Save the view "runs grouped by tag ``group_by``" in the experiment; return its key.

    The view shows the columns ``fold``, ``seed`` and the trials' test metrics (a group's row:
    their mean over its runs).  The MLflow 3 UI keeps saved views as experiment tags
    ``mlflow.sharedViewState.<key>`` holding ``{"name", "createdAt", "updatedAt", "state"}``, where
    ``state`` is the JSON of the runs page's view state; they are listed under *Views* on the runs
    page and opened by ``?viewStateShareKey=<key>`` (:func:`runs_url`).  The grouping is not part
    of the page's URL (the UI keeps it in the browser's local storage), so a saved view is the only
    way to hand someone a link that opens grouped.  Saving again replaces the view.
    """
    mlflow = client(tracking_uri)
    trials = retry(lambda: mlflow.search_runs([experiment_id], f"tags.`{KIND_TAG}` = 'trial'", max_results=1,
                                               order_by=["attributes.start_time DESC"]))
    metrics = sorted(k for k in (trials[0].data.metrics if trials else {}) if k.startswith("test/"))
    columns = [f"tags.`{tag}`" for tag in ("fold", "seed") if tag != group_by] + [f"metrics.`{m}`" for m in metrics]
    state = {"groupBy": {"aggregateFunction": "average", "groupByKeys": [{"mode": "tag", "groupByData": group_by}]},
             "selectedColumns": columns}
    now = int(time.time() * 1000)
    view = {"name": f"runs by {group_by}", "createdAt": now, "updatedAt": now, "state": json.dumps(state)}
    retry(lambda: mlflow.set_experiment_tag(experiment_id, _VIEW_TAG_PREFIX + name, json.dumps(view)))
    return name


def look_at_runs(tracking_uri: str, experiment_id: str, port: int = UI_PORT) -> str:
    """What a sweep prints at its end: the command that starts the UI (not for a tracking server)
    and the link that opens the experiment's runs table grouped by ``arch``.

    Saves that grouping as a view in the experiment (:func:`save_runs_view`); where the store
    refuses (a read-only server), the link opens the runs table without it.
    """
    try:
        view = save_runs_view(tracking_uri, experiment_id)
    except Exception:  # a link to the ungrouped runs table still beats none
        view = None
    link = runs_url(tracking_uri, experiment_id, port=port, view=view)
    if _is_server(tracking_uri):
        return f"look at the runs:  {link}"
    return f"look at the runs:  {ui_command(tracking_uri, port)}\nthen open:         {link}"


def redact(uri: str) -> str:
    """``uri`` without a password (``http://user:secret@host`` → ``http://user:***@host``), for
    what is printed or logged; MLflow reads credentials from ``MLFLOW_TRACKING_USERNAME`` /
    ``MLFLOW_TRACKING_PASSWORD``, which sertext never stores."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def client(tracking_uri: str) -> MlflowClient:
    """A client whose HTTP requests are sent once each: :func:`retry` is the one layer that retries
    (see sertext/backoff.py for why the two layers must not multiply); its downloads draw no
    progress bar of their own (one per file is noise beside sertext's)."""
    quiet_http_retries()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return MlflowClient(tracking_uri=tracking_uri)


def prepare_experiment(tracking_uri: str, name: str) -> str:
    """Create the store (SQLite: its folder and schema) and the experiment; return its id.

    Runs in the driver before any trial starts: SQLite schema creation races when several trial
    processes open a fresh database at once.
    """
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    mlflow = client(tracking_uri)
    experiment = retry(lambda: mlflow.get_experiment_by_name(name))
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if tracking_uri.startswith("sqlite:///"):  # artifacts beside the database, not in a trial's cwd
        location = (Path(tracking_uri[len("sqlite:///"):]).parent / "artifacts" / name).as_uri()
    return retry(lambda: mlflow.create_experiment(name, artifact_location=location))


def start_parent_run(tracking_uri: str, experiment_id: str, sweep: str, params: dict,
                     run_id: str | None = None) -> str:
    """Open the sweep's parent run (or reopen ``run_id`` when a sweep resumes)."""
    mlflow = client(tracking_uri)
    if run_id is not None:
        retry(lambda: mlflow.update_run(run_id, status=RunStatus.to_string(RunStatus.RUNNING)))
        return run_id
    run = retry(lambda: mlflow.create_run(experiment_id, run_name=sweep, tags={KIND_TAG: "sweep", SWEEP_TAG: sweep}))
    _log_params(mlflow, run.info.run_id, params)
    return run.info.run_id


def end_run(tracking_uri: str, run_id: str, status: str = "FINISHED") -> None:
    retry(lambda: client(tracking_uri).set_terminated(run_id, status=status))


def mark_stale_runs_killed(tracking_uri: str, experiment_id: str, parent_run_id: str) -> int:
    """Mark the parent's child runs left RUNNING by a dead driver as KILLED; return how many.

    A trial that runs again reopens its run (see :class:`TrialRun`), which sets it RUNNING.
    """
    mlflow = client(tracking_uri)
    stale = retry(lambda: child_runs(tracking_uri, experiment_id, parent_run_id, status="RUNNING"))
    for run in stale:
        retry(lambda run_id=run.info.run_id: mlflow.set_terminated(run_id, status="KILLED"))
    return len(stale)


def mark_stopped_early(tracking_uri: str, experiment_id: str, parent_run_id: str, trial_keys) -> int:
    """Tag the runs of trials a scheduler stopped early (ASHA) with ``sertext.stopped_early`` and end
    those still RUNNING as KILLED, so that reports set them aside and tell them from failed ones;
    return how many runs were tagged."""
    mlflow, keys = client(tracking_uri), set(trial_keys)
    stopped = [run for run in retry(lambda: child_runs(tracking_uri, experiment_id, parent_run_id))
               if run.data.tags.get(TRIAL_KEY_TAG) in keys]
    for run in stopped:
        retry(lambda run_id=run.info.run_id: mlflow.set_tag(run_id, STOPPED_TAG, "true"))
        if run.info.status == "RUNNING":
            retry(lambda run_id=run.info.run_id: mlflow.set_terminated(run_id, status="KILLED"))
    return len(stopped)


def child_runs(tracking_uri: str, experiment_id: str, parent_run_id: str, *, status: str | None = None,
               trial_key: str | None = None) -> list:
    """The parent's child runs, optionally only those with a status or a trial key.

    Not retried here: callers wrap the whole listing in :func:`retry`, so retries never nest."""
    query = [f"tags.mlflow.parentRunId = '{parent_run_id}'"]
    if status:
        query.append(f"attributes.status = '{status}'")
    if trial_key:
        query.append(f"tags.`{TRIAL_KEY_TAG}` = '{trial_key}'")
    runs, token = [], None
    while True:
        page = client(tracking_uri).search_runs([experiment_id], " and ".join(query), max_results=1000,
                                                page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def latest_sweep_run(tracking_uri: str, experiment: str) -> tuple[str, str]:
    """``(experiment id, parent run id)`` of the latest launch of the sweep named ``experiment``."""
    mlflow = client(tracking_uri)
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        names = sorted(e.name for e in mlflow.search_experiments())
        raise ValueError(f"no experiment {experiment!r} in {redact(tracking_uri)}; it has {names}")
    parents = mlflow.search_runs([found.experiment_id], f"tags.`{KIND_TAG}` = 'sweep'",
                                 order_by=["attributes.start_time DESC"], max_results=1)
    if not parents:
        raise ValueError(f"experiment {experiment!r} has no sweep run (tag {KIND_TAG}=sweep)")
    return found.experiment_id, parents[0].info.run_id


def run_params(tracking_uri: str, run_id: str) -> dict:
    """A run's params (a sweep's parent run holds its SweepConfig)."""
    return dict(client(tracking_uri).get_run(run_id).data.params)


def log_values(tracking_uri: str, run_id: str, metrics: dict) -> None:
    """Log final values (step 0) to a run, e.g. a sweep's word error rate on its parent run."""
    now = int(time.time() * 1000)
    batch = [Metric(k, float(v), now, 0) for k, v in metrics.items()]
    retry(lambda: client(tracking_uri).log_batch(run_id, metrics=batch))


def set_tags(tracking_uri: str, run_id: str, tags: dict) -> None:
    """Set tags on a run (values as strings)."""
    batch = [RunTag(k, str(v)) for k, v in tags.items()]
    retry(lambda: client(tracking_uri).log_batch(run_id, tags=batch))


def read_text_artifact(tracking_uri: str, run_id: str, path: str) -> str | None:
    """A text artifact of a run, or ``None`` when the run has none at ``path``."""
    mlflow = client(tracking_uri)
    folder, _, name = path.rpartition("/")
    listed = retry(lambda: mlflow.list_artifacts(run_id, folder or None))
    if not any(item.path == path for item in listed):
        return None
    with tempfile.TemporaryDirectory() as local:
        return Path(retry(lambda: mlflow.download_artifacts(run_id, path, local))).read_text()


def log_folder(tracking_uri: str, run_id: str, folder, artifact_path: str) -> None:
    """Upload a folder (a report) to a run's artifacts."""
    retry(lambda: client(tracking_uri).log_artifacts(run_id, str(folder), artifact_path))


def load_predictions(tracking_uri: str, run_id: str, split: str):
    """The prediction table ``predictions/<split>.csv`` that a trial run stored."""
    import pandas as pd

    with tempfile.TemporaryDirectory() as folder:
        path = retry(lambda: client(tracking_uri).download_artifacts(run_id, f"predictions/{split}.csv", folder))
        return pd.read_csv(path, dtype={"utt_id": str, "truth": str, "prediction": str})


def _log_params(mlflow: MlflowClient, run_id: str, params: dict) -> None:
    items = [Param(k, str(v)[:_MAX_PARAM_LENGTH]) for k, v in sorted(params.items())]
    for start in range(0, len(items), 100):
        retry(lambda chunk=items[start:start + 100]: mlflow.log_batch(run_id, params=chunk))


def _create_once(mlflow: MlflowClient, experiment_id: str, parent_run_id: str, trial_key: str, run_name: str,
                 tags: dict) -> str:
    """Create a trial's run; a retry first looks for the run that an attempt whose reply was lost
    (a server stopped mid-request) may have created, so a trial never gets two runs."""
    attempts = []

    def create() -> str:
        if attempts:
            found = child_runs(mlflow.tracking_uri, experiment_id, parent_run_id, trial_key=trial_key)
            if found:
                return found[0].info.run_id
        attempts.append(1)
        return mlflow.create_run(experiment_id, run_name=run_name, tags=tags).info.run_id

    return retry(create)


class TrialRun:
    """The MLflow child run of one trial: found by trial key, created once, reopened on retry.

    Args:
        tracking_uri, experiment_id, parent_run_id: where the run lives.
        trial_key: stable identity of the trial within the sweep.
        run_name: shown in the UI, e.g. ``mfcnn14-Ses01F-seed0``.
        tags: the contract tags (arch, fold, seed, task, corpus, protocol, …).
        params: the flattened trial config.
        run_id: the run this trial logged to before (kept in its checkpoint), if any.
    """

    def __init__(self, tracking_uri: str, experiment_id: str, parent_run_id: str, trial_key: str,
                 run_name: str, tags: dict, params: dict, run_id: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.client = client(tracking_uri)
        if run_id is not None:
            existing = [retry(lambda: self.client.get_run(run_id))]
        else:
            existing = retry(lambda: child_runs(tracking_uri, experiment_id, parent_run_id, trial_key=trial_key))
        if existing:
            self.run_id = existing[0].info.run_id
            self.finished = existing[0].info.status == "FINISHED"
            self.final_metrics = dict(existing[0].data.metrics)
            if not self.finished:  # trained again: running, and no longer stopped early if it was
                retry(lambda: self.client.update_run(self.run_id, status="RUNNING"))
                if existing[0].data.tags.get(STOPPED_TAG) == "true":
                    retry(lambda: self.client.set_tag(self.run_id, STOPPED_TAG, "false"))
            return
        all_tags = {**{k: str(v) for k, v in tags.items()}, KIND_TAG: "trial", TRIAL_KEY_TAG: trial_key,
                    "mlflow.parentRunId": parent_run_id}
        self.run_id = _create_once(self.client, experiment_id, parent_run_id, trial_key, run_name, all_tags)
        self.finished = False
        self.final_metrics = {}
        _log_params(self.client, self.run_id, params)

    def set_tags(self, tags: dict) -> None:
        batch = [RunTag(k, str(v)) for k, v in tags.items()]
        retry(lambda: self.client.log_batch(self.run_id, tags=batch))

    def log_metrics(self, metrics: dict, step: int) -> None:
        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items() if _is_number(v)]
        retry(lambda: self.client.log_batch(self.run_id, metrics=batch))

    def finish(self, result) -> None:
        """Final metrics, prediction tables and (classification) the confusion matrix; FINISHED.

        The final metrics are logged at the step after the last epoch, so that each dev curve ends
        on the value selected at the best epoch and the run's ``dev/uar`` (MLflow shows the value
        of the highest step) is the selected one, not the last epoch's.
        """
        self.log_metrics({**result.metrics, "best_epoch": result.best_epoch}, step=len(result.history))
        with tempfile.TemporaryDirectory() as folder:
            for split, table in result.predictions.items():
                path = Path(folder) / f"{split}.csv"
                table.to_csv(path, index=False)
                retry(lambda p=path: self.client.log_artifact(self.run_id, str(p), artifact_path="predictions"))
            if "prediction" in result.predictions["test"].columns:
                figure = confusion_figure(result.predictions["test"])
                retry(lambda: self.client.log_figure(self.run_id, figure, "confusion_matrix.png"))
                _close(figure)
        retry(lambda: self.client.set_terminated(self.run_id, status="FINISHED"))
        self.finished = True

    def fail(self) -> None:
        try:
            self.client.set_terminated(self.run_id, status="FAILED")
        except Exception:  # the tracking store itself may be what failed; the trial error matters more
            pass

    def interrupt(self) -> None:
        """The trial was ended from outside (a scheduler's stop, or its driver's death): KILLED,
        not FAILED.  Only the driver, which knows which trials its scheduler stopped, tags those as
        stopped early (:func:`mark_stopped_early`); a trial cut off by a dead driver is trained
        again by the relaunch."""
        try:
            self.client.set_terminated(self.run_id, status="KILLED")
        except Exception:  # the relaunch marks runs left RUNNING as KILLED (mark_stale_runs_killed)
            pass


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def confusion_figure(predictions):
    """Confusion matrix (counts and row percentages) of a categorical prediction table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from sertext.metrics import confusion
    from sertext.predictions import classes_of

    labels = sorted(classes_of(predictions))
    matrix = confusion(predictions["truth"], predictions["prediction"], labels=labels)
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure, axes = plt.subplots(figsize=(4.2, 3.6), dpi=120)
    axes.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            axes.text(j, i, f"{matrix[i, j]}\n{share[i, j]:.0%}", ha="center", va="center", fontsize=8,
                      color="white" if share[i, j] > 0.6 else "black")
    axes.set_xticks(range(len(labels)), labels, rotation=30)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    figure.tight_layout()
    return figure


def _close(figure) -> None:
    import matplotlib.pyplot as plt

    plt.close(figure)

