"""The full demo sweep with a cold vs a warm feature cache, measured side by side in one run.

Runs ``python sweeps/loso.py --demo`` (80 trials, the README's main job, report included) twice
as a user would, each time with a fresh MLflow store and Ray Tune storage: first with an empty
feature cache (the sweep extracts log-Mel and MiniLM features before its trials start), then with
the cache that run filled.  The warm run must write no new cache entry.  The demo corpus is
synthesised beforehand, so neither run pays for it.  Writes ``bench/results/demo_sweep_cache.json``.

Run: python bench/demo_sweep_cache.py
"""

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from sertext import tracking  # noqa: E402
from sertext.data.demo import default_demo_dir, write_demo_corpus  # noqa: E402

SCRIPT = Path(__file__).resolve().parent.parent / "sweeps" / "loso.py"
NAME = "iemocap-loso-demo"


def cache_entries(cache: Path) -> int:
    return sum(1 for _ in cache.rglob("*.npy"))


def run_demo(cache: Path, folder: Path) -> dict:
    """Wall-clock seconds of one demo sweep, its finished trial runs and the cache entries after it."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    command = [sys.executable, str(SCRIPT), "--demo", "--quiet", "--cache-dir", str(cache), "--tracking-uri", uri,
               "--storage-path", str(folder / "ray"), "--report-dir", str(folder / "reports")]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    experiment, parent = tracking.latest_sweep_run(uri, NAME)
    finished = len(tracking.child_runs(uri, experiment, parent, status="FINISHED"))
    return {"seconds": round(seconds, 1), "finished_trials": finished, "cache_entries": cache_entries(cache)}


def main() -> dict:
    write_demo_corpus(default_demo_dir(), progress=False)
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder) / "cache"
        runs = {label: run_demo(cache, Path(folder) / label) for label in ("cold", "warm")}
    assert runs["warm"]["cache_entries"] == runs["cold"]["cache_entries"], "the warm sweep computed features"
    return {"sweep": f"{SCRIPT.name} --demo", **runs,
            "cold_over_warm": round(runs["cold"]["seconds"] / runs["warm"]["seconds"], 3),
            "saved_s": round(runs["cold"]["seconds"] - runs["warm"]["seconds"], 1),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, cpu"}


if __name__ == "__main__":
    result = main()
    cold, warm = result["cold"], result["warm"]
    print(f"demo sweep ({cold['finished_trials']} trials): cold cache {cold['seconds'] / 60:.1f} min, "
          f"warm cache {warm['seconds'] / 60:.1f} min ({result['cold_over_warm']:.2f}x, "
          f"{result['saved_s']:.0f} s saved); the warm run wrote no new entry "
          f"({warm['cache_entries']} entries)")
    out = Path(__file__).parent / "results" / "demo_sweep_cache.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
