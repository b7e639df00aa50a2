"""The Ray Tune driver: a sweep's Tune runs on a laptop or a cluster, every trial in its own MLflow
run.

:func:`run_sweep`

1. resolves the corpus and expands the definition into its Tune runs (:mod:`.definition`);
2. checks that every model the trials read loads and that no text-reading model would see an
   utterance without a transcript (one line each, before anything is spent);
3. joins the Ray cluster (``RAY_ADDRESS`` or ``ray submit``) or starts a local Ray, recognises
   speech where the trials ask for it and extracts every feature they read into the shared cache,
   as Ray tasks across the cluster (:mod:`.prepare`, :mod:`sertext.features.distributed`);
4. opens the sweep's MLflow parent run in the driver (:mod:`.state`; a relaunch reopens it and
   marks children left RUNNING by a dead driver as KILLED), and runs each Tune run: per-trial CPUs
   and a GPU share (only when the cluster has GPUs), a concurrency limit, retries from the last
   epoch's checkpoint, ``Tuner.restore`` when the same sweep is launched
   again, Optuna for a search and ASHA when asked;
5. prints the results table and the way to the runs, and writes the report (:mod:`.summary`).

Every trial finds its MLflow run by its key (:attr:`.definition.Trial.key`), so a retried,
resumed or re-run trial continues the same run, and a trial whose run already FINISHED is not
trained again.  A Tune trial trains one candidate: one trial, or (``scope="protocol"``) one
setting on every fold and seed in turn, reporting the running mean of the dev metric after each.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import ray
from ray import tune

from .definition import Candidate, SweepConfig, Trial, TuneRun, expand, feature_trials
from .prepare import check_inputs, prepare_inputs, resolve_corpus
from .settings import RunSettings
from .startup import StartUp
from .state import check_own_state, open_parent_run

if TYPE_CHECKING:
    import pandas as pd

RUN_ID_FILE = "mlflow_run_id.txt"
DONE = "sertext/done"  # in a Tune trial's last report when it trained its whole candidate
TRIALS_DONE = "sertext/trials_done"
ASHA_MAX_T = 10_000  # ASHA stops only at its rungs (grace_period × reduction_factor^k), never at the end


@dataclass(frozen=True)
class _Setup:
    """What every Tune trial of a sweep shares (passed once through ``tune.with_parameters``)."""

    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    cpus: float
    cache_dir: str
    metric: str


@dataclass
class _Outcome:
    """How a sweep's Tune trials ended: in error, never (interrupted), or stopped early (ASHA)."""

    failed: int = 0
    unfinished: int = 0
    stopped: int = 0


def run_sweep(sweep: SweepConfig, settings: RunSettings | None = None) -> pd.DataFrame:
    """Run (or resume) a sweep; return its trial runs, one row each (``arch``, ``fold``, ``seed``,
    ``variant``, ``status`` and every final metric)."""
    from sertext import record, tracking
    from sertext.aggregate import collect_runs
    from sertext.config import default_cache_dir

    from .summary import print_results

    settings = settings or RunSettings()
    _quiet_ray_tune()
    started, startup = time.perf_counter(), StartUp()
    corpus = resolve_corpus(sweep, settings.progress)
    runs = expand(sweep, root=corpus.root, folds=corpus.folds, dialogue_acts=corpus.dialogue_acts,
                  cross_root=corpus.cross_root)
    cache_dir = settings.cache_dir or default_cache_dir()
    trials = feature_trials(runs, sweep)
    startup.done("corpus")
    tables = check_inputs(trials, cache_dir)  # one line for what would stop it, before Ray starts
    storage = Path(settings.storage_path or "ray_results").expanduser().resolve()
    experiment_dir = storage / sweep.name
    if settings.restart and experiment_dir.exists():
        shutil.rmtree(experiment_dir)
    check_own_state(sweep, experiment_dir)
    startup.done("checks")
    tracking_uri = settings.tracking_uri or tracking.default_tracking_uri()
    with ThreadPoolExecutor(max_workers=1) as background:  # the store's schema is made while Ray starts
        experiment = background.submit(startup.timed, "MLflow store", tracking.prepare_experiment, tracking_uri,
                                       sweep.name)
        _init_ray()
        resources = trial_resources(settings)
        startup.done("Ray")
        transcripts, corpora, folds = prepare_inputs(trials, tables, cache_dir, settings.progress, on_cluster=True,
                                                     gpu_share=resources["gpu"])
        startup.done("features")
        experiment_id = experiment.result()
    for line in transcript_lines(transcripts):
        print(line)

    parent_run_id = open_parent_run(sweep, settings, tracking_uri, experiment_id, experiment_dir)
    record.write_sweep_record(tracking_uri, parent_run_id, record.SweepRecord(
        sweep, corpus.root, corpus.folds, corpus.dialogue_acts, corpus.cross_root, transcripts, corpora, folds))
    stale = tracking.mark_stale_runs_killed(tracking_uri, experiment_id, parent_run_id)
    if stale:
        print(f"marked {stale} run(s) left RUNNING by an earlier launch as KILLED")

    _check_tracking_reachable(tracking_uri)
    startup.done("MLflow")
    print(startup.line())
    setup = _Setup(tracking_uri, experiment_id, parent_run_id, settings.cpus_per_trial, cache_dir, sweep.metric)
    outcome = _Outcome()
    try:
        for run in runs:
            _fit(sweep, settings, run, resources, setup, storage, outcome)
            if outcome.unfinished:
                break  # interrupted (Ctrl-C): leave the rest for the relaunch
    except BaseException:
        tracking.end_run(tracking_uri, parent_run_id, "FAILED")
        raise
    status = "KILLED" if outcome.unfinished else "FAILED" if outcome.failed else "FINISHED"
    tracking.end_run(tracking_uri, parent_run_id, status)
    results = collect_runs(tracking_uri, experiment_id, parent_run_id)
    finished = int((results["status"] == "FINISHED").sum()) if len(results) else 0
    stopped = f", {outcome.stopped} stopped early by ASHA" if outcome.stopped else ""
    print(f"\nsweep {sweep.name}: {finished} finished trial runs, {outcome.failed} failed{stopped}, "
          f"{(time.perf_counter() - started) / 60:.1f} min")
    print_results(sweep, settings, tracking_uri, parent_run_id, write_report=not outcome.unfinished)
    if outcome.unfinished:
        print(f"interrupted with {outcome.unfinished} trial(s) unfinished: run the same command again to resume")
    print(f"\n{tracking.look_at_runs(tracking_uri, experiment_id)}")
    return results


def _fit(sweep: SweepConfig, settings: RunSettings, run: TuneRun, resources: dict, setup: _Setup, storage: Path,
         outcome: _Outcome) -> None:
    """Run or resume one Tune run; count its trials that failed, did not end, or were stopped early
    (their MLflow runs are marked as stopped)."""
    from sertext import tracking

    trainable = tune.with_resources(tune.with_parameters(_trainable, setup=setup, candidates=run.candidates),
                                    resources)
    path = storage / run.name
    if tune.Tuner.can_restore(str(path)):
        print(f"resuming sweep state from {path}")
        tuner = tune.Tuner.restore(str(path), trainable=trainable, resume_unfinished=True,
                                   resume_errored=not run.search, restart_errored=False)
    else:
        tuner = tune.Tuner(
            trainable, param_space=_param_space(run), tune_config=_tune_config(sweep, settings, run),
            run_config=tune.RunConfig(
                name=run.name, storage_path=str(storage), verbose=1 if settings.progress else 0,
                failure_config=tune.FailureConfig(max_failures=settings.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=2)))
    results = tuner.fit()
    for error in results.errors:
        print(f"trial failed: {str(error).splitlines()[0][:300]}")
    # A trial that ended without error but without DONE was stopped by the scheduler.  ResultGrid
    # has no per-trial status, so read it where ResultGrid itself does.
    stopped = [trial.config for trial in results._experiment_analysis.trials
               if trial.status == "TERMINATED" and not (trial.last_result or {}).get(DONE)]
    if stopped:
        keys = [one.key for config in stopped for one in _trials_of(config, run.candidates)]
        tracking.mark_stopped_early(setup.tracking_uri, setup.experiment_id, setup.parent_run_id, keys)
    outcome.failed += results.num_errors
    outcome.unfinished += len(results) - results.num_errors - results.num_terminated
    outcome.stopped += len(stopped)


def trial_resources(settings: RunSettings) -> dict:
    """What each Tune trial asks Ray for: its CPUs, and its GPU share when the cluster has GPUs (a
    share of 0.5 packs two trials on each GPU)."""
    has_gpus = ray.cluster_resources().get("GPU", 0) > 0
    return {"cpu": settings.cpus_per_trial, "gpu": settings.gpus_per_trial if has_gpus else 0}


def check_assigned_gpus() -> None:
    """Refuse to train on the CPU when Ray gave this trial a GPU that torch cannot use (a CPU-only
    torch build, a driver mismatch): such a trial would run, silently, for days.

    Raises:
        RuntimeError: one line naming the assigned GPU and what torch sees.
    """
    import torch

    assigned = ray.get_gpu_ids()
    if assigned and not torch.cuda.is_available():
        raise RuntimeError(
            f"Ray assigned GPU {','.join(map(str, assigned))} to this trial (CUDA_VISIBLE_DEVICES="
            f"{os.environ.get('CUDA_VISIBLE_DEVICES', '')!r}) but torch {torch.__version__} sees no usable CUDA device "
            f"(CUDA build: {torch.version.cuda or 'none'}); refusing to train on the CPU")


def _param_space(run: TuneRun) -> dict:
    """A grid over the run's candidates (by their labels, which Tune shows), or one template
    candidate and the search space."""
    if not run.search:
        return {"candidate": tune.grid_search([candidate.label for candidate in run.candidates])}
    distributions = {"uniform": tune.uniform, "loguniform": tune.loguniform, "choice": tune.choice}
    return {"candidate": run.candidates[0].label,
            **{k: distributions[spec[0]](*spec[1:]) for k, spec in run.search.items()}}


def _tune_config(sweep: SweepConfig, settings: RunSettings, run: TuneRun) -> tune.TuneConfig:
    def name(trial) -> str:
        label = trial.config["candidate"]
        return re.sub(r"[^A-Za-z0-9._=,-]+", "_", label)[:80] + f"-{trial.trial_id}"

    if not run.search:
        return tune.TuneConfig(max_concurrent_trials=settings.max_concurrent or None, reuse_actors=True,
                               trial_name_creator=name, trial_dirname_creator=name)
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.optuna import OptunaSearch

    searcher = ConcurrencyLimiter(OptunaSearch(seed=run.seed), max_concurrent=settings.max_concurrent or 2)
    scheduler = ASHAScheduler(time_attr="training_iteration", max_t=ASHA_MAX_T, grace_period=sweep.grace_period,
                              reduction_factor=sweep.reduction_factor) if sweep.scheduler == "asha" else None
    return tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=run.num_samples, metric=sweep.metric,
                           mode="max", reuse_actors=True, trial_name_creator=name, trial_dirname_creator=name)


def _trials_of(config: dict, candidates: tuple[Candidate, ...]) -> list[Trial]:
    """The trials a Tune trial's config trains: its candidate's, with the searched values applied."""
    values = {k: v for k, v in config.items() if k != "candidate"}
    candidate = next(c for c in candidates if c.label == config["candidate"])
    return [trial.with_values(values) for trial in candidate.trials]


def _trainable(config: dict, setup: _Setup, candidates: tuple[Candidate, ...]) -> None:
    """One Tune trial: train its candidate's trials in turn, each in its own MLflow run.  One trial
    reports every epoch (with a checkpoint); several report the running mean of the dev metric
    after each trial.  The last report carries ``DONE``."""
    import torch

    check_assigned_gpus()
    torch.set_num_threads(max(1, int(setup.cpus)))
    trials = _trials_of(config, candidates)
    workdir = Path(tempfile.mkdtemp(prefix="sertext-trial-"))
    try:
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            with checkpoint.as_directory() as folder:
                shutil.copytree(folder, workdir, dirs_exist_ok=True)

        def report_epoch(epoch: int, metrics: dict) -> None:
            if len(trials) == 1:
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(str(workdir)))

        scores = []
        for index, trial in enumerate(trials):
            folder = workdir if len(trials) == 1 else workdir / trial.key
            metrics = _train_in_run(trial, setup, folder, report_epoch)
            scores.append(metrics.get(setup.metric, float("nan")))
            last = index == len(trials) - 1
            summary = {setup.metric: statistics.fmean(scores), TRIALS_DONE: index + 1, **({DONE: 1} if last else {})}
            if len(trials) == 1:
                tune.report({**metrics, **summary})
            else:
                tune.report(summary, checkpoint=None if last else tune.Checkpoint.from_directory(str(workdir)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _train_in_run(trial: Trial, setup: _Setup, workdir: Path, on_epoch) -> dict:
    """Train one trial into its MLflow run (reopened by its key; skipped when already FINISHED) and
    return its final metrics.  ``workdir`` holds the run id and the per-epoch checkpoint."""
    from sertext import tracking
    from sertext.config import TrialConfig
    from sertext.precision import precision_name
    from sertext.record import trial_tags
    from sertext.trial import run_trial

    config = TrialConfig.from_dict({**trial.config, "data.cache_dir": setup.cache_dir,
                                    "checkpoint_dir": str(workdir)})
    resolved = config.resolved()
    saved_run = (workdir / RUN_ID_FILE).read_text().strip() if (workdir / RUN_ID_FILE).is_file() else None
    run = tracking.TrialRun(
        setup.tracking_uri, setup.experiment_id, setup.parent_run_id, trial.key,
        run_name=f"{trial.arch}-{trial.fold}-seed{trial.seed}",
        tags={**trial_tags(trial, resolved), "ray_trial_id": tune.get_context().get_trial_id()},
        params={k: v for k, v in resolved.to_dict().items() if k != "checkpoint_dir"}, run_id=saved_run)
    if run.finished:
        return run.final_metrics
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / RUN_ID_FILE).write_text(run.run_id)
    run.set_tags({"ray_node": ray.get_runtime_context().get_node_id(), "ray_pid": os.getpid(),
                  "precision": precision_name(resolved.train.amp, resolved.train.device)})

    def report(epoch: int, metrics: dict) -> None:
        run.log_metrics({k: v for k, v in metrics.items() if k != "epoch"}, step=epoch)
        on_epoch(epoch, metrics)

    try:
        result = run_trial(config, reporter=report)
    except SystemExit:  # how Tune ends a trial its scheduler stopped, and Ray one whose driver died
        run.interrupt()
        raise
    except BaseException:
        run.fail()
        raise
    run.finish(result)
    return {**result.metrics, "best_epoch": result.best_epoch}


def transcript_lines(transcripts: dict) -> list[str]:
    """One line per corpus whose text the trials read: where the text comes from and, for recognised
    text, how good it is.

    Examples:
        >>> print(*transcript_lines({"msp-podcast": {"source": "pocketsphinx", "utterances": 600, "empty": 3,
        ...                                          "wer": 0.472, "wer_utterances": 598}}))  # doctest: +ELLIPSIS
        text of msp-podcast: recognised by pocketsphinx (600 utterances, 3 without words; WER 0.472 against its ...
    """
    lines = []
    for corpus, entry in transcripts.items():
        if entry["source"] == "corpus":
            lines.append(f"text of {corpus}: its own transcripts ({entry['utterances']} utterances)")
            continue
        scored = (f"WER {entry['wer']:.3f} against its own transcripts, over {entry['wer_utterances']} utterances"
                  if entry.get("wer_utterances") else "no transcripts of its own to measure the WER against")
        lines.append(f"text of {corpus}: recognised by {entry['source']} ({entry['utterances']} utterances, "
                     f"{entry['empty']} without words; {scored})")
    return lines


def run_function_grid(name: str, function, values: list, *, storage_path: str = "", progress: bool = True) -> int:
    """Run ``function(value) -> metrics`` once per value as a Ray Tune grid; return how many failed."""
    _init_ray()
    tuner = tune.Tuner(
        tune.with_parameters(_function_trainable, function=function),
        param_space={"value": tune.grid_search(list(values))},
        tune_config=tune.TuneConfig(reuse_actors=True),
        run_config=tune.RunConfig(name=name, storage_path=str(Path(storage_path or "ray_results").resolve()),
                                  verbose=1 if progress else 0))
    return tuner.fit().num_errors


def _function_trainable(config: dict, function) -> None:
    tune.report(function(config["value"]))


def _quiet_ray_tune() -> None:
    """Silence what only misleads here: Tune's own result files (MLflow has the results), the
    warning that they are missing, the per-checkpoint snapshot warning (a checkpoint per epoch
    is the point) and MLflow's "View run" line per run."""
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)


def _init_ray() -> None:
    """Join the cluster this driver runs on (``ray submit``, ``RAY_ADDRESS``), else start a local
    Ray without a dashboard and with a modest object store (sweeps pass little data through it);
    ``RAY_ADDRESS=local`` always starts the local one."""
    if ray.is_initialized():
        return
    address = os.environ.get("RAY_ADDRESS", "auto")
    if address != "local":
        try:
            ray.init(address=address, log_to_driver=False)
            return
        except (ConnectionError, ValueError, RuntimeError):
            pass
    ray.init(address="local", include_dashboard=False, object_store_memory=512 * 2**20, log_to_driver=False)


def _check_tracking_reachable(tracking_uri: str) -> None:
    """Refuse a local SQLite store when trials may run on other machines."""
    machines = {node["NodeManagerAddress"] for node in ray.nodes() if node.get("Alive")}
    if tracking_uri.startswith("sqlite:") and len(machines) > 1:
        raise ValueError(f"the cluster spans {len(machines)} machines, which cannot all write to "
                         f"{tracking_uri}; start mlflow/server.sh on the head and pass "
                         "--tracking-uri http://HEAD:5000 (see cluster/README.md)")

