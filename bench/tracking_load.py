"""The MLflow tracking server under a cluster's load: many concurrent trials through sertext's tracking.

Starts ``mlflow/server.sh`` on a fresh store (SQLite, and a throwaway PostgreSQL that this script
initialises with initdb/pg_ctl in a temporary folder, password in a PGPASSFILE as on a cluster) and runs
N trial clients against it, each an independent ``MlflowClient`` going through ``sertext.tracking`` the
way a Ray trial does: all N open their run at once (``TrialRun``: search by trial key, create, ~60
params), then log an epoch of dev metrics every few seconds, then ``finish`` (final metrics, two
prediction CSVs uploaded through the server, FINISHED); the driver prepares the experiment and the
parent run first and logs the sweep's report to the parent at the end.  Clients are threads spread over
a few processes (each process' HTTP pool holds one connection per thread, as separate trials would).

Two server configurations side by side, each on a fresh store:

- ``old``: MLflow's default connection pool (QueuePool, 5 + 10 overflow, 30 s timeout), as server.sh
  ran before; at ``--old-clients`` trials (default 64, where it broke in the issue);
- ``new``: server.sh's defaults; at ``--clients`` trials (default 256).

Afterwards the store is read back through the server: a trial is *lost* with no run for its key,
*doubled* with two or more, *failed* if its client raised or timed out, or its run is not FINISHED with
every param, every epoch of every metric, the final metrics and both prediction files.  Also printed:
tracking calls per second during the load (the server's access log), p50/p95 seconds for a trial to
open its run, the answers by HTTP status, and how the server took SIGTERM (seconds, or SIGKILLed).

Writes ``bench/results/tracking_load.json``.

Run: python bench/tracking_load.py [--clients 256] [--old-clients 64] [--backends sqlite postgresql]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import re
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

from throwaway_postgres import ThrowawayPostgres  # noqa: E402  (bench/, beside this script)

from sertext import tracking  # noqa: E402
from sertext.tracking_server import free_port, start_server, stop_server, wait_until_up  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "tracking_load.json"
CONFIGS = {  # server.sh environment per configuration
    "old": {"SERTEXT_MLFLOW_POOLCLASS": "QueuePool", "SERTEXT_MLFLOW_POOL_SIZE": "5",  # SQLAlchemy's default
            "SERTEXT_MLFLOW_MAX_OVERFLOW": "10",  # pool, which MLflow used, and uvicorn's defaults: no limit
            "SERTEXT_MLFLOW_GRACE_S": "off", "SERTEXT_MLFLOW_KEEP_ALIVE_S": "5"},  # on a graceful stop
    "new": {},  # server.sh's defaults
}
EPOCH_METRICS = [f"dev/{name}" for name in ("loss", "ccc_arousal", "ccc_valence", "ccc_dominance", "mse_arousal",
                                            "mse_valence", "mse_dominance", "lr")]
FINAL_METRICS = ["test/ccc_valence", "dev/ccc_valence"]


@dataclass(frozen=True)
class Load:
    """What each trial client does."""

    clients: int
    epochs: int = 10
    epoch_s: float = 3.0  # seconds between two epochs of one trial
    params: int = 60
    rows: int = 300  # rows of each prediction table
    processes: int = 8
    deadline_s: float = 240.0  # a trial not done by then counts as failed


def trial_client(load: Load, where: dict, index: int) -> dict:
    """One trial: open its run, log ``load.epochs`` epochs, finish; its outcome and time to open."""
    key, started = f"trial-{index:04d}", time.monotonic()
    rng = random.Random(index)
    try:
        run = tracking.TrialRun(where["uri"], where["experiment"], where["parent"], key, f"load-{index}",
                                {"arch": "cnn14", "fold": f"F{index % 10}", "seed": index // 10, "task": "regression",
                                 "corpus": "load", "protocol": "bench"},
                                {f"param.{i:02d}": rng.random() for i in range(load.params)})
        open_s = time.monotonic() - started
        for epoch in range(load.epochs):
            time.sleep(load.epoch_s * rng.uniform(0.9, 1.1))
            run.log_metrics({name: rng.random() for name in EPOCH_METRICS}, step=epoch)
        run.finish(_result(load, rng))
        return {"key": key, "ok": True, "open_s": open_s}
    except Exception as error:  # counted and shown; the benchmark goes on with the other trials
        return {"key": key, "ok": False, "error": f"{type(error).__name__}: {str(error)[:300]}"}


def _result(load: Load, rng: random.Random) -> SimpleNamespace:
    """A regression trial's result: final metrics and two prediction tables (no confusion matrix)."""
    import pandas as pd

    table = pd.DataFrame({"utt_id": [f"u{i}" for i in range(load.rows)],
                          "truth_valence": [rng.random() for _ in range(load.rows)],
                          "pred_valence": [rng.random() for _ in range(load.rows)]})
    return SimpleNamespace(metrics={name: rng.random() for name in FINAL_METRICS}, best_epoch=load.epochs - 1,
                           history=[{}] * load.epochs, predictions={"dev": table, "test": table})


def client_process(load: Load, where: dict, indices: list[int], ready, go, out: str) -> None:
    """Run the trials ``indices`` as threads once ``go`` is set; append each outcome to ``out``."""
    os.environ["MLFLOW_HTTP_POOL_MAXSIZE"] = str(len(indices))  # a connection per trial, as separate processes
    lock = threading.Lock()

    def one(index: int) -> None:
        outcome = trial_client(load, where, index)
        with lock, open(out, "a") as sink:
            sink.write(json.dumps(outcome) + "\n")

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in indices]
    ready.put(os.getpid())
    go.wait()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def run_clients(load: Load, where: dict, folder: Path, at_end) -> tuple[list[dict], float]:
    """All trials, started at once; their outcomes (a timed-out trial: not ok) and the load's seconds.

    ``at_end()`` runs when all are done or the deadline passed, before the late ones are ended: so a
    server can be stopped while stalled trials still press on it."""
    context = multiprocessing.get_context("spawn")
    ready, go, out = context.Queue(), context.Event(), folder / "outcomes.jsonl"
    shares = [list(range(p, load.clients, load.processes)) for p in range(load.processes)]
    processes = [context.Process(target=client_process, args=(load, where, share, ready, go, str(out)))
                 for share in shares if share]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=300)
    started = time.monotonic()
    go.set()
    for process in processes:
        process.join(max(0.0, started + load.deadline_s - time.monotonic()))
    seconds = time.monotonic() - started
    at_end()
    for process in processes:  # past the deadline: end them (SIGTERM, then SIGKILL)
        if process.is_alive():
            process.terminate()
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join()
    done = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    reported = {o["key"] for o in done}
    timed_out = [{"key": f"trial-{i:04d}", "ok": False, "error": f"not done within {load.deadline_s:.0f} s"}
                 for i in range(load.clients) if f"trial-{i:04d}" not in reported]
    return done + timed_out, seconds


def check_store(load: Load, where: dict) -> dict:
    """Read every trial's run back: keys without a run, keys with several, runs incomplete."""
    uri = where["uri"]
    runs = tracking.retry(lambda: tracking.child_runs(uri, where["experiment"], where["parent"]))
    per_key = Counter(run.data.tags.get(tracking.TRIAL_KEY_TAG) for run in runs)
    keys = [f"trial-{i:04d}" for i in range(load.clients)]
    first = {run.data.tags.get(tracking.TRIAL_KEY_TAG): run for run in runs}
    with ThreadPoolExecutor(8) as pool:
        problems = dict(zip(keys, pool.map(lambda k: _run_problem(load, uri, first.get(k)), keys), strict=True))
    return {"lost": [k for k in keys if per_key[k] == 0], "doubled": [k for k in keys if per_key[k] > 1],
            "incomplete": {k: p for k, p in problems.items() if p and per_key[k] > 0}}


def _run_problem(load: Load, uri: str, run) -> str | None:
    """What is missing from one trial's run, or None when it is whole."""
    if run is None:
        return "no run"
    mlflow = tracking.client(uri)
    if run.info.status != "FINISHED":
        return f"status {run.info.status}"
    if len(run.data.params) < load.params:
        return f"{len(run.data.params)} params"
    if missing := set(EPOCH_METRICS + FINAL_METRICS) - set(run.data.metrics):
        return f"metrics missing: {sorted(missing)}"
    steps = sorted(m.step for m in tracking.retry(lambda: mlflow.get_metric_history(run.info.run_id, "dev/loss")))
    if steps != list(range(load.epochs)):
        return f"dev/loss steps {steps}"
    files = {a.path for a in tracking.retry(lambda: mlflow.list_artifacts(run.info.run_id, "predictions"))}
    if files != {"predictions/dev.csv", "predictions/test.csv"}:
        return f"artifacts {sorted(files)}"
    return None


def parent_report(where: dict, folder: Path) -> float:
    """The driver's end of a sweep: values and a report folder on the parent run, then FINISHED."""
    started = time.monotonic()
    report = folder / "report"
    report.mkdir()
    (report / "report.md").write_text("# load\n" + "| run | value |\n" * 200)
    (report / "report.html").write_text("<html><body>load</body></html>\n" * 200)
    tracking.log_values(where["uri"], where["parent"], {"trials.finished": 1.0})
    tracking.log_folder(where["uri"], where["parent"], report, "report")
    tracking.end_run(where["uri"], where["parent"])
    return time.monotonic() - started


def answers(log: Path, upto: int | None = None) -> Counter:
    """HTTP statuses in the server's access log (its first ``upto`` bytes)."""
    text = log.read_bytes()[:upto].decode(errors="replace")
    return Counter(re.findall(r'HTTP/[\d.]+" (\d{3})\b', text))


def server_errors(log: Path) -> dict:
    """The server's logged errors, by their first words, most frequent first."""
    lines = [line.split(" ERROR ", 1)[1] for line in log.read_text(errors="replace").splitlines() if " ERROR " in line]
    return dict(Counter(line[:110] for line in lines).most_common(6))


def measure(load: Load, backend: str, config: str, folder: Path, postgres: ThrowawayPostgres | None) -> dict:
    """One configuration on one backend: a fresh store and server, the load, the check, the stop."""
    folder.mkdir(parents=True)
    uri_db = postgres.create_database(f"load_{config}") if postgres else f"sqlite:///{folder / 'mlflow.db'}"
    env = {**CONFIGS[config], **(postgres.client_env() if postgres else {})}
    port, log = free_port(), folder / "server.log"
    where = {"uri": f"http://127.0.0.1:{port}"}

    def start():
        with open(log, "ab") as sink:
            server = start_server(uri_db, folder / "artifacts", port, env=env, log=sink)
        wait_until_up(where["uri"], server, timeout_s=120)
        return server

    server = start()
    where["experiment"] = tracking.prepare_experiment(where["uri"], f"load-{config}")
    where["parent"] = tracking.start_parent_run(where["uri"], where["experiment"], "load", {"clients": load.clients})
    stop = {}
    outcomes, load_s = run_clients(load, where, folder, lambda: stop.update(_timed_stop(server)))
    during = log.stat().st_size
    server = start()  # again, on the same store, to read it back
    report_s = parent_report(where, folder)
    store = check_store(load, where)
    final_stop = _timed_stop(server)
    opened = sorted(o["open_s"] for o in outcomes if "open_s" in o)
    failed = {o["key"]: o["error"] for o in outcomes if not o["ok"]}
    failed.update({k: p for k, p in store["incomplete"].items() if k not in failed})
    statuses = answers(log, during)
    return {"backend": backend, "config": config, "clients": load.clients, "server_env": CONFIGS[config],
            "lost": len(store["lost"]), "doubled": len(store["doubled"]), "failed": len(failed),
            "finished_ok": load.clients - len(failed) - len(store["lost"]),
            "load_s": round(load_s, 1), "calls": sum(statuses.values()),
            "calls_per_s": round(sum(statuses.values()) / load_s, 1),
            "open_p50_s": _quantile(opened, 0.5), "open_p95_s": _quantile(opened, 0.95),
            "open_max_s": _quantile(opened, 1),
            "answers": dict(sorted(statuses.items())), "server_errors": server_errors(log),
            "report_s": round(report_s, 1),
            "sigterm_after_load": stop, "sigterm_idle": final_stop,
            "errors": dict(Counter(_error_kind(e) for e in failed.values()).most_common(8)),
            "examples": dict(list(failed.items())[:3])}


def _timed_stop(server) -> dict:
    """SIGTERM the server (SIGKILL after the grace period): how, and how many seconds it took."""
    started = time.monotonic()
    outcome = stop_server(server)
    return {"outcome": outcome, "seconds": round(time.monotonic() - started, 1)}


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(q * len(values)))], 2)


def _error_kind(error: str) -> str:
    for kind in ("QueuePool limit", "database is locked", "too many clients", "too many 500", "too many 503",
                 "timed out", "not done within", "Connection refused", "status "):
        if kind.lower() in error.lower():
            return kind
    return error[:60]


def main(args) -> dict:
    runs = []
    for backend in args.backends:
        with tempfile.TemporaryDirectory(prefix=f"tracking-load-{backend}-") as folder:
            postgres = ThrowawayPostgres(Path(folder)) if backend == "postgresql" else None
            try:
                if postgres:
                    postgres.start()
                for config, clients in (("old", args.old_clients), ("new", args.clients)):
                    if clients:
                        load = Load(clients=clients, epochs=args.epochs, epoch_s=args.epoch_s,
                                    processes=args.processes, deadline_s=args.deadline_s)
                        runs.append(measure(load, backend, config, Path(folder) / config, postgres))
                        print_run(runs[-1])
            finally:
                if postgres:
                    postgres.stop()
    return {"machine": f"{_cpu_name()}, {os.cpu_count()} cores",
            "note": "2-core machine shared with other work: calls per second and times are lower than alone",
            "load": asdict(Load(clients=args.clients, epochs=args.epochs, epoch_s=args.epoch_s,
                                processes=args.processes, deadline_s=args.deadline_s)),
            "epoch_metrics": len(EPOCH_METRICS), "runs": runs}


def _cpu_name() -> str:
    """The CPU's model name (Linux), else the machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def print_run(r: dict) -> None:
    print(f"{r['backend']:<10} {r['config']:<3} {r['clients']:>4} trials: lost {r['lost']}, doubled {r['doubled']}, "
          f"failed {r['failed']}; {r['calls_per_s']:.0f} calls/s over {r['load_s']:.0f} s; open p50 "
          f"{r['open_p50_s']} s, p95 {r['open_p95_s']} s; answers {r['answers']}; SIGTERM after load: "
          f"{r['sigterm_after_load']['outcome']} in {r['sigterm_after_load']['seconds']} s", flush=True)
    if r["errors"]:
        print(f"           errors: {r['errors']}", flush=True)
    if r["server_errors"]:
        print(f"           server log: {r['server_errors']}", flush=True)


def print_ratios(result: dict) -> None:
    """new vs old per backend: trials completed, calls per second, p95 time to open."""
    by = {(r["backend"], r["config"]): r for r in result["runs"]}
    for backend in dict.fromkeys(r["backend"] for r in result["runs"]):
        old, new = by.get((backend, "old")), by.get((backend, "new"))
        if not (old and new):
            continue
        print(f"{backend}: completed {new['finished_ok']}/{new['clients']} (new) vs {old['finished_ok']}/"
              f"{old['clients']} (old); calls/s new/old {new['calls_per_s'] / max(old['calls_per_s'], 1e-9):.2f} "
              f"with {new['clients'] / old['clients']:.0f}x the trials; open p95 {new['open_p95_s']} s (new) vs "
              f"{old['open_p95_s'] or 'none opened'} (old); SIGTERM under the load's end "
              f"{new['sigterm_after_load']['outcome']} (new) vs {old['sigterm_after_load']['outcome']} (old)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=256, help="trials against server.sh's settings (default 256)")
    parser.add_argument("--old-clients", type=int, default=64,
                        help="trials against the old settings, MLflow's default pool (default 64; 0: skip)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per trial (default 10)")
    parser.add_argument("--epoch-s", type=float, default=3.0, help="seconds between a trial's epochs (default 3)")
    parser.add_argument("--processes", type=int, default=8, help="client processes the trials' threads share")
    parser.add_argument("--deadline-s", type=float, default=240.0, help="a trial not done by then has failed")
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS})")
    args = parser.parse_args()
    result = main(args)
    print_ratios(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
