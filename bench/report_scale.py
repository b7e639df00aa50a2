"""`sertext report` at 80, 400 and 1,440 runs on a tracking server, before vs after, side by side.

The dimensional sweep at the papers' settings has 1,400 trials; its report must not take minutes.
This benchmark builds such an experiment the way it was first seen:

1. the demo main job's finished trial runs (``python sweeps/loso.py --demo``: 4 architectures ×
   10 folds × 2 seeds = 80 runs, each with dev, test and cross-corpus prediction tables and a
   confusion matrix), run once into a temporary SQLite store, or read from ``--source-uri``;
2. a tracking server started with ``mlflow/server.sh`` on a free port (its own SQLite backend and
   artifact folder under a temporary folder);
3. one experiment on it that grows 80 → 400 → 1,440 runs: the parent run (its sweep record listing
   the copies' seeds) and every trial run copied whole (params, tags, metric histories, artifacts),
   each copy of the 80 under two new seeds.

At each size it times the real command, ``sertext report --experiment … --tracking-uri http://…``,
for this checkout ("after", with a cold and then a warm prediction cache) and for sertext as
committed at ``--baseline`` ("before": the package extracted with ``git archive`` and put first on
``PYTHONPATH``), alternating on the same server so a shared CPU slows both alike, and checks that
both print the same results table.  Writes ``bench/results/report_scale.json``.

Run: python bench/report_scale.py [--baseline HEAD] [--sizes 80 400 1440] [--source-uri URI]
"""

import argparse
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # no line per copied run

from sertext import record, tracking  # noqa: E402
from sertext.precision import cpu_description  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NAME = "iemocap-loso-demo"  # the demo main job's experiment
SCALED = "report-scale"  # the experiment the copies go to
COPY_THREADS = 4


# --- the source: the demo main job's finished runs ---------------------------------------------
def run_demo(folder: Path) -> str:
    """Run the demo main job into a SQLite store under ``folder``; return its tracking URI."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    subprocess.run([sys.executable, str(ROOT / "sweeps" / "loso.py"), "--demo", "--quiet", "--tracking-uri", uri,
                    "--storage-path", str(folder / "ray"), "--report-dir", ""], check=True, stdout=subprocess.DEVNULL)
    return uri


@dataclasses.dataclass
class SourceRun:
    """One finished trial run read once: everything a copy needs."""

    name: str
    tags: dict
    params: dict
    metrics: list  # every logged value (histories included), as mlflow Metric entities
    artifacts: Path  # a local folder holding the run's artifacts


def read_source(uri: str, experiment: str, folder: Path) -> tuple[record.SweepRecord, dict, list[SourceRun]]:
    """The latest launch of ``experiment`` in ``uri``: its record, its parent's params and its
    finished trial runs with their artifacts downloaded under ``folder``."""
    experiment_id, parent = tracking.latest_sweep_run(uri, experiment)
    client = tracking.client(uri)
    runs = []
    for run in tracking.child_runs(uri, experiment_id, parent, status="FINISHED"):
        run_id = run.info.run_id
        local = folder / run_id
        local.mkdir(parents=True)
        client.download_artifacts(run_id, "", str(local))
        history = [m for key in run.data.metrics for m in client.get_metric_history(run_id, key)]
        runs.append(SourceRun(run.info.run_name, dict(run.data.tags), dict(run.data.params), history, local))
    return record.read_sweep_record(uri, parent), tracking.run_params(uri, parent), runs


# --- the tracking server -----------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    """``mlflow/server.sh`` on a free port with its store under ``folder``; waits until healthy."""
    port = free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # its mlflow
    process = subprocess.Popen(["bash", str(ROOT / "mlflow" / "server.sh"), "--backend",
                                f"sqlite:///{folder / 'server.db'}", "--artifacts", str(folder / "artifacts"),
                                "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(f"{url}/health", timeout=1)
            return process, url
        except OSError:
            time.sleep(0.5)
    stop_server(process)
    raise RuntimeError("the tracking server did not start within 2 minutes")


def stop_server(process: subprocess.Popen) -> None:
    """End the server's own process group (server.sh execs mlflow, whose workers share it)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# --- copying -----------------------------------------------------------------------------------
def copy_parent(uri: str, experiment_id: str, params: dict) -> str:
    return tracking.start_parent_run(uri, experiment_id, SCALED, params)


def write_record(uri: str, parent: str, source: record.SweepRecord, seeds: list[int]) -> None:
    """The parent's sweep record, promising exactly the seeds copied so far."""
    sweep = dataclasses.replace(source.sweep, name=SCALED, seeds=tuple(seeds))
    record.write_sweep_record(uri, parent, dataclasses.replace(source, sweep=sweep))


def copy_run(uri: str, experiment_id: str, parent: str, run: SourceRun, seed_offset: int) -> None:
    """One trial run copied whole under a new seed (``seed + seed_offset``), FINISHED."""
    from mlflow.entities import Param

    seed = int(run.tags["seed"]) + seed_offset
    key = f"{run.tags[tracking.TRIAL_KEY_TAG]}-copy{seed_offset}"  # one run per trial: a key of its own
    tags = {**{k: v for k, v in run.tags.items() if k not in ("mlflow.runName", "mlflow.parentRunId")},
            "seed": str(seed), tracking.TRIAL_KEY_TAG: key, "mlflow.parentRunId": parent}
    params = {**run.params, **({"train.seed": str(seed)} if "train.seed" in run.params else {})}
    client = tracking.client(uri)
    run_id = tracking.retry(lambda: client.create_run(experiment_id, run_name=run.name.replace(
        f"seed{run.tags['seed']}", f"seed{seed}"), tags=tags)).info.run_id
    items = [Param(k, v) for k, v in sorted(params.items())]
    for start in range(0, len(items), 100):
        tracking.retry(lambda chunk=items[start:start + 100]: client.log_batch(run_id, params=chunk))
    for start in range(0, len(run.metrics), 1000):
        tracking.retry(lambda chunk=run.metrics[start:start + 1000]: client.log_batch(run_id, metrics=chunk))
    tracking.retry(lambda: client.log_artifacts(run_id, str(run.artifacts)))
    tracking.retry(lambda: client.set_terminated(run_id, status="FINISHED"))


def grow(uri: str, experiment_id: str, parent: str, runs: list[SourceRun], copies: range, seeds_per_copy: int) -> None:
    """Copy every source run once per copy index in ``copies`` (copy c shifts seeds by c · seeds)."""
    jobs = [(run, c * seeds_per_copy) for c in copies for run in runs]
    with ThreadPoolExecutor(COPY_THREADS) as pool:
        list(pool.map(lambda job: copy_run(uri, experiment_id, parent, *job), jobs))


# --- timing `sertext report` ----------------------------------------------------------------------
def baseline_package(revision: str, folder: Path) -> Path:
    """sertext as committed at ``revision``, extracted (read-only git) into ``folder``."""
    archive = folder / "baseline.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), revision, "sertext"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "baseline", filter="data")
    return folder / "baseline"


def time_report(url: str, out: Path, home: Path, package: Path | None, timeout_s: float) -> dict:
    """Seconds of one ``sertext report`` (``package``: the baseline's sertext first on the path),
    its stdout's results table and the progress lines it wrote to stderr; ``home``: its HOME (a
    fresh one is a cold prediction cache)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "MPLCONFIGDIR": str(out.parent / "matplotlib")}
    if package is not None:
        env["PYTHONPATH"] = str(package)
    command = [str(Path(sys.executable).parent / "sertext"), "report", "--experiment", SCALED, "--tracking-uri", url,
               "--out", str(out)]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, env=env, cwd=out.parent, capture_output=True, text=True, timeout=timeout_s,
                              check=True)
    except subprocess.TimeoutExpired:
        return {"seconds": None, "timed_out_after_s": timeout_s}
    seconds = time.perf_counter() - start
    table = done.stdout.split("\nwrote ")[0]  # the report's own path differs from run to run
    return {"seconds": round(seconds, 1), "table": table, "stderr_lines": len(done.stderr.splitlines())}


def measure(url: str, size: int, folder: Path, baseline: Path | None, timeout_s: float, warm: bool = True,
            current: bool = True) -> dict:
    """At one size: the baseline (if any), this checkout (``current``) cold, then (``warm``) again
    with the prediction cache the cold run filled."""
    runs = {}
    if baseline is not None:
        runs["before"] = time_report(url, folder / f"before-{size}", folder / f"home-before-{size}", baseline,
                                     timeout_s)
    home = folder / f"home-after-{size}"
    if current:
        runs["after_cold"] = time_report(url, folder / f"after-cold-{size}", home, None, timeout_s)
    if current and warm:
        runs["after_warm"] = time_report(url, folder / f"after-warm-{size}", home, None, timeout_s)
    tables = {label: run.pop("table", None) for label, run in runs.items()}
    same = len({t for t in tables.values() if t is not None}) == 1
    return {"runs": size, **runs, "same_table": same}


def main(sizes: list[int], revision: str | None, source_uri: str | None, timeout_s: float,
         work_dir: Path | None = None, warm: bool = True, current: bool = True) -> dict:
    with tempfile.TemporaryDirectory(prefix="report-scale-") as name:
        folder = Path(work_dir or name)
        folder.mkdir(parents=True, exist_ok=True)
        uri = source_uri or run_demo(folder / "demo")
        source, params, runs = read_source(uri, NAME, folder / "source")
        seeds_per_copy = len(source.sweep.seeds)
        if any(size % len(runs) for size in sizes):
            raise ValueError(f"sizes must be multiples of the {len(runs)} source runs")
        baseline = baseline_package(revision, folder) if revision else None
        server, url = start_server(folder / "server")
        try:
            experiment_id = tracking.prepare_experiment(url, SCALED)
            parent = copy_parent(url, experiment_id, params)
            copied, results = 0, []
            for size in sorted(sizes):
                copies = size // len(runs)
                start = time.perf_counter()
                grow(url, experiment_id, parent, runs, range(copied, copies), seeds_per_copy)
                write_record(url, parent, source, list(range(copies * seeds_per_copy)))
                copied = copies
                print(f"{size} runs copied ({time.perf_counter() - start:.0f} s); timing sertext report", flush=True)
                results.append(measure(url, size, folder / f"reports-{size}", baseline, timeout_s, warm, current))
                print(json.dumps(results[-1]), flush=True)
        finally:
            stop_server(server)
    return {"source": f"sweeps/loso.py --demo ({len(runs)} finished trial runs, {seeds_per_copy} seeds), "
                      "copied whole under new seeds", "server": "mlflow/server.sh (SQLite backend, local artifacts)",
            "baseline": revision, "results": results,
            "cpu": cpu_description()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[80, 400, 1440], help="runs in the experiment")
    parser.add_argument("--baseline", default=None, metavar="REV",
                        help="also time sertext as committed at this git revision (e.g. HEAD)")
    parser.add_argument("--source-uri", default=None,
                        help=f"a store holding a finished {NAME} launch (default: run the demo main job first)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds one report may take")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="keep the server's store, the copies and the reports here (default: a temporary folder)")
    parser.add_argument("--baseline-only", action="store_true",
                        help="time only the --baseline revision (e.g. before changing the working tree)")
    parser.add_argument("--cold-only", action="store_true", help="no second, warm-cache report per size")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "report_scale.json")
    args = parser.parse_args()
    result = main(args.sizes, args.baseline, args.source_uri, args.timeout, args.work_dir, not args.cold_only,
                  not args.baseline_only)
    for row in result["results"]:
        shown = "  ".join(f"{label} {row[label]['seconds']} s" for label in ("before", "after_cold", "after_warm")
                          if label in row)
        print(f"{row['runs']:5d} runs: {shown}  (same table: {row['same_table']})")
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
