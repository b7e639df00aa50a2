"""Sweep vs sequential loop: parallel efficiency and scheduling overhead per trial, at several
concurrencies.

Runs the same equal trials (tiny CNN14 on the demo corpus, a few seconds each) side by side in one
process, with a warm feature cache:

1. a plain sequential loop of ``run_trial`` with one torch thread per trial;
2. the same loop with one torch thread per core (what a user would otherwise do with the cores);
3. for each concurrency c, sertext's sweep (``run_sweep``: Ray Tune, c trials at once, a fresh
   MLflow store, every epoch, the predictions and the confusion matrix logged) of a few and of
   all the trials, on a Ray started beforehand with c CPUs (its start-up is reported apart, as it
   is paid once per Ray session).  A c above the machine's cores oversubscribes them: that is
   what ``--max-concurrent 4`` on a 2-core laptop gives.

A sweep pays a fixed start-up (MLflow store creation, Tune, worker processes importing torch and
mlflow) and then a cost per trial.  The two sweep sizes separate them: with k = min(c, cores)
cores busy, core-seconds per trial s = k·(T(N) − T(n)) / (N − n), start-up a = T(n) − n·s/k.
Reported per concurrency:

- steady-state parallel efficiency = t / s (t: seconds per trial in the 1-thread loop), what a
  large sweep approaches, and overhead per trial = s − t core-seconds;
- end-to-end parallel efficiency of the N-trial sweep, start-up included,
  = T(loop, 1 thread) / (k·T(N)), and of an 80-trial sweep (the demo main job) predicted from a, s.

Writes ``bench/results/sweep_overhead.json``.

Run: python bench/sweep_overhead.py [--trials 16] [--concurrent 2 4]
"""

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import torch  # noqa: E402

from sertext.data import load_corpus  # noqa: E402
from sertext.data.demo import default_demo_dir, write_demo_corpus  # noqa: E402
from sertext.features import FeatureCache, LogMelExtractor, extract  # noqa: E402
from sertext.sweep import RunSettings, SweepConfig, run_sweep  # noqa: E402
from sertext.trial import run_trial  # noqa: E402

FOLDS = ("Ses01F", "Ses01M", "Ses02F", "Ses02M", "Ses03F", "Ses03M", "Ses04F", "Ses04M")
SETTINGS = {"model.width": 0.0625, "train.epochs": 2, "train.batch_size": 32, "train.crop_s": 1.0}


def trial_configs(root: str, cache: str, trials: int) -> list[dict]:
    """``trials`` equal trials: CNN14 over folds (and a second seed when more are asked for)."""
    grid = [(fold, seed) for seed in (0, 1) for fold in FOLDS][:trials]
    return [{"data.root": root, "data.cache_dir": cache, "data.fold": fold, "train.seed": seed,
             "model.arch": "cnn14", **SETTINGS} for fold, seed in grid]


def sequential(configs: list[dict], threads: int) -> float:
    torch.set_num_threads(threads)
    start = time.perf_counter()
    for config in configs:
        run_trial(config)
    return time.perf_counter() - start


def swept(configs: list[dict], root: str, cache: str, concurrent: int, folder: Path) -> float:
    """Seconds for ``run_sweep`` over exactly these trials (a grid of their folds × seeds)."""
    folds = tuple(dict.fromkeys(c["data.fold"] for c in configs))
    seeds = tuple(dict.fromkeys(c["train.seed"] for c in configs))
    assert len(folds) * len(seeds) == len(configs), "the sweep grid must be the loop's trials"
    sweep = SweepConfig(name=f"overhead-{len(configs)}", root=root, archs=("cnn14",), folds=folds, seeds=seeds,
                        fixed=SETTINGS)
    settings = RunSettings(max_concurrent=concurrent, cache_dir=cache, storage_path=str(folder / "ray"),
                           tracking_uri=f"sqlite:///{folder / f'{len(configs)}.db'}",
                           report_dir="", progress=False)  # the report is a separate, once-per-sweep step
    start = time.perf_counter()
    results = run_sweep(sweep, settings)
    seconds = time.perf_counter() - start
    assert (results["status"] == "FINISHED").sum() == len(configs), results
    return seconds


def main(trials: int, concurrencies: list[int]) -> dict:
    small = 2 * max(concurrencies)
    assert trials > small, f"--trials must exceed {small}"
    cores = os.cpu_count()
    root = str(write_demo_corpus(default_demo_dir(), progress=False))
    with tempfile.TemporaryDirectory() as folder:
        cache = str(Path(folder) / "cache")
        extract(load_corpus("iemocap", root), LogMelExtractor(), FeatureCache(cache), progress=False)
        configs = trial_configs(root, cache, trials)
        run_trial(configs[0])  # warm-up: imports, allocator, file cache
        loop_1 = sequential(configs, 1)
        loop_cores = sequential(configs, cores)
        sweeps = {c: sweep_at(configs, root, cache, c, Path(folder) / f"c{c}", small) for c in concurrencies}
    per_trial = loop_1 / trials
    return {"trials": trials, "settings": SETTINGS, "cores": cores, "loop_1_thread_s": round(loop_1, 2),
            f"loop_{cores}_threads_s": round(loop_cores, 2), "seconds_per_trial_1_thread": round(per_trial, 2),
            "concurrency": {str(c): efficiency(timing, per_trial, loop_1, loop_cores, trials, small, min(c, cores))
                            for c, timing in sweeps.items()},
            "machine": f"{platform.machine()}, {cores} cores, cpu"}


def sweep_at(configs: list[dict], root: str, cache: str, concurrent: int, folder: Path, small: int) -> dict:
    """Seconds of Ray's start and of a ``small``-trial and an all-trial sweep, ``concurrent`` at once."""
    import ray

    start = time.perf_counter()
    ray.init(num_cpus=concurrent, include_dashboard=False, object_store_memory=200 * 2**20, log_to_driver=False)
    ray_start = time.perf_counter() - start
    try:
        return {"ray_start_s": ray_start, "small_s": swept(configs[:small], root, cache, concurrent, folder),
                "all_s": swept(configs, root, cache, concurrent, folder)}
    finally:
        ray.shutdown()


def efficiency(timing: dict, per_trial: float, loop_1: float, loop_cores: float, trials: int, small: int,
               busy_cores: int) -> dict:
    """Start-up, core-seconds per trial and parallel efficiencies of one concurrency's sweeps."""
    core_s = busy_cores * (timing["all_s"] - timing["small_s"]) / (trials - small)
    startup = timing["small_s"] - small * core_s / busy_cores
    demo_trials = 80
    return {f"sweep_{small}_trials_s": round(timing["small_s"], 2),
            f"sweep_{trials}_trials_s": round(timing["all_s"], 2), "ray_start_s": round(timing["ray_start_s"], 2),
            "busy_cores": busy_cores,
            "sweep_core_s_per_trial": round(core_s, 2), "sweep_startup_s": round(startup, 2),
            "overhead_per_trial_core_s": round(core_s - per_trial, 2),
            "steady_state_efficiency": round(per_trial / core_s, 3),
            f"end_to_end_efficiency_{trials}_trials": round(loop_1 / (busy_cores * timing["all_s"]), 3),
            f"end_to_end_efficiency_{demo_trials}_trials_predicted": round(
                demo_trials * per_trial / (busy_cores * (startup + demo_trials * core_s / busy_cores)), 3),
            "speedup_vs_loop_all_cores": round(loop_cores / timing["all_s"], 2)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=16, help="number of equal trials (at most 16)")
    parser.add_argument("--concurrent", type=int, nargs="+", default=[2, 4],
                        help="trials at once in the sweep (CPUs for Ray), one sweep pair each (default 2 4)")
    args = parser.parse_args()
    result = main(args.trials, args.concurrent)
    n, cores = args.trials, result["cores"]
    print(f"{n} trials of {result['seconds_per_trial_1_thread']:.1f} s: loop (1 thread) "
          f"{result['loop_1_thread_s']:.1f} s, loop ({cores} threads) {result[f'loop_{cores}_threads_s']:.1f} s")
    for c, r in result["concurrency"].items():
        print(f"sweep, {c} at once on {r['busy_cores']} cores: {r[f'sweep_{n}_trials_s']:.1f} s (+ Ray start "
              f"{r['ray_start_s']:.1f} s); start-up {r['sweep_startup_s']:.1f} s once, then "
              f"{r['sweep_core_s_per_trial']:.2f} core-s per trial = overhead {r['overhead_per_trial_core_s']:.2f} s; "
              f"efficiency steady {r['steady_state_efficiency']:.2f}, "
              f"end to end {r[f'end_to_end_efficiency_{n}_trials']:.2f} "
              f"({n} trials), {r['end_to_end_efficiency_80_trials_predicted']:.2f} (80, predicted); "
              f"vs the {cores}-thread loop {r['speedup_vs_loop_all_cores']:.2f}x")
    out = Path(__file__).parent / "results" / "sweep_overhead.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
