"""Ray Tune glue: a declarative sweep → trials on a laptop or a cluster, every trial in MLflow.

The only module that imports ray.  A :class:`SweepConfig` names a grid over architectures,
folds, seeds and any trial-config key (CCC loss weights, widths, …), optionally an Optuna search
over continuous keys, and the resources per trial.  :func:`run_sweep`

1. connects to the Ray cluster (``RAY_ADDRESS`` or one started on this node) or starts a local Ray;
2. generates the demo corpus if asked, and precomputes every feature into the shared cache, so
   trials start warm and never race to extract the same feature;
3. creates the MLflow experiment and the sweep's parent run in the driver (a relaunch reopens the
   parent run and marks children left RUNNING by a dead driver as KILLED);
4. runs the trials with Ray Tune: per-trial CPUs and a GPU fraction (only when the cluster has
   GPUs), a concurrency limit, retries on failure, a checkpoint every epoch so a preempted trial
   resumes, and ``Tuner.restore`` when the same sweep is launched again (``restart=True`` starts
   over);
5. prints a summary table of test metrics per architecture and the command that opens the MLflow
   UI, and writes the sweep's report (:mod:`sertext.report`), also logged to the parent run.

Every trial finds its MLflow run by a key derived from its config, so a retried, resumed or
re-run trial continues the same run, and a trial whose run already FINISHED is not trained again.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sertext.config import ARCHITECTURES, TrialConfig, default_cache_dir
from sertext.errors import USER_ERRORS

if TYPE_CHECKING:
    import pandas as pd

# torch, mlflow, ray and the readers are imported where they are used, so that a sweep script's
# --help answers at once.

PARENT_RUN_FILE = "sertext_parent_run.json"
RUN_ID_FILE = "mlflow_run_id.txt"


@dataclass(frozen=True)
class SweepConfig:
    """A sweep: the grid (and optional Optuna search) of trials, their resources and stores.

    Attributes:
        name: sweep and MLflow experiment name.
        archs, seeds, folds: the grid (``folds`` empty: every fold of the protocol).
        grid: more grid axes, ``{"train.loss_weights": [[1, 1, 1], [0.7, 0.2, 0.1]]}``.
        fixed: trial-config values for every trial, ``{"model.width": 0.25}``.
        per_arch: values for one architecture only, ``{"text": {"train.epochs": 2}}``.
        variants: a grid axis whose values are whole settings, for combinations a plain grid
            cannot express: ``({"data.targets": ["valence"], "train.loss": "mse"}, …)``.
        variant_archs: the architectures the variants apply to (empty: all); the others train once,
            without variants (e.g. the text model of a bottleneck-size sweep).
        audio_baseline, text_baseline: the report's baselines (markers ``*`` and ``†``) and the
            pair it fuses (LF, LF-weighted).
        search: Optuna space, ``{"train.lr": ("loguniform", 1e-3, 1e-1)}`` (``uniform``,
            ``loguniform``, ``choice``); then ``num_samples`` trials per (arch, fold, seed).
        metric: what the search optimises (maximised).
        cpus_per_trial, gpus_per_trial: resources; the GPU share is requested only when the
            cluster has GPUs (a fraction lets several small trials share one GPU).
        max_concurrent: at most this many trials at once (0: as resources allow).
        max_failures: retries of a failing trial.
        tracking_uri: MLflow store (default: SQLite under the project's ``mlflow/``).
        storage_path: Ray Tune results (default ``./ray_results``; shared storage on clusters).
        report_dir: the report (``sertext report``) goes to ``report_dir/<name>`` when the sweep
            ends, and into its parent run; empty: no report.
        restart: start over instead of resuming a previous launch of the same sweep.
        demo: use (and create once) the demo corpus.
    """

    name: str
    corpus: str = "iemocap"
    root: str = ""
    protocol: str = "iemocap-loso"
    task: str = "categorical"
    archs: tuple = ("cnn14",)
    seeds: tuple = (0,)
    folds: tuple = ()
    grid: dict = field(default_factory=dict)
    fixed: dict = field(default_factory=dict)
    per_arch: dict = field(default_factory=dict)
    variants: tuple = ()
    variant_archs: tuple = ()
    audio_baseline: str = "cnn14"
    text_baseline: str = "text"
    search: dict = field(default_factory=dict)
    num_samples: int = 1
    metric: str = "dev/uar"
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.5
    max_concurrent: int = 0
    max_failures: int = 2
    tracking_uri: str = ""
    storage_path: str = ""
    cache_dir: str = ""
    dialogue_acts: str | None = None
    report_dir: str = "reports"  # "" for no report
    restart: bool = False
    demo: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.name):
            raise ValueError(f"sweep name {self.name!r}: use letters, digits, '.', '_' and '-' (it names a folder "
                             "under the storage path and the MLflow experiment)")
        unknown = set(self.archs) - set(ARCHITECTURES)
        if unknown:
            raise ValueError(f"unknown architecture(s) {sorted(unknown)}; expected {sorted(ARCHITECTURES)}")
        if set(self.variant_archs) - set(self.archs):
            raise ValueError(f"variant_archs {sorted(set(self.variant_archs) - set(self.archs))} are not in archs")
        if not self.demo and not self.root:
            raise ValueError("give the corpus root (--corpus-root) or use the demo corpus (--demo)")
        # Validate every trial key now, not in the middle of the sweep.
        probe = {**self._base(), **{k: v[0] for k, v in self.grid.items()}, **self.fixed}
        probe.update({k: _search_probe(spec) for k, spec in self.search.items()})
        for arch, variant in self.arch_variants():
            TrialConfig.from_dict({**probe, **variant, **self.per_arch.get(arch, {}), "model.arch": arch,
                                   "data.fold": "probe", "train.seed": self.seeds[0]})

    def definition(self) -> dict:
        """The fields that decide which trials the sweep has and what they compute: a Tune state
        saved under another definition of the same name is not resumed."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k in _DEFINING_FIELDS}

    def arch_variants(self) -> list[tuple[str, dict]]:
        """Every (architecture, variant) the sweep trains (``{}``: no variant)."""
        return [(arch, variant) for arch in self.archs
                for variant in (self.variants if self._varied(arch) else ()) or ({},)]

    def _varied(self, arch: str) -> bool:
        return bool(self.variants) and (not self.variant_archs or arch in self.variant_archs)

    def _base(self) -> dict:
        return {"data.corpus": self.corpus, "data.protocol": self.protocol, "data.task": self.task}


_DEFINING_FIELDS = ("corpus", "root", "protocol", "task", "archs", "seeds", "folds", "grid", "fixed", "per_arch",
                   "variants", "variant_archs", "search", "num_samples", "metric", "demo")


@dataclass(frozen=True)
class _Setup:
    """What every trial of a sweep shares (passed once through ``tune.with_parameters``)."""

    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    cpus: float
    per_arch: dict


def run_sweep(sweep: SweepConfig) -> pd.DataFrame:
    """Run (or resume) a sweep and return its finished trials, one row per trial.

    Columns: ``arch``, ``fold``, ``seed``, the grid keys, ``status`` and every final metric.
    """
    import ray

    from sertext import tracking
    from sertext.aggregate import collect_runs

    _quiet_ray_tune()
    started = time.perf_counter()
    root = demo_root(sweep.corpus, sweep.progress) if sweep.demo else str(Path(sweep.root).expanduser().resolve())
    if sweep.demo and sweep.corpus == "iemocap" and sweep.dialogue_acts is None:  # the demo corpus has acts
        sweep = dataclasses.replace(sweep, dialogue_acts=str(Path(root) / "EMOTyDA"))
    cache_dir = sweep.cache_dir or default_cache_dir()
    folds = sweep.folds or tuple(_fold_names(sweep, root))
    base = {**sweep._base(), "data.root": root, "data.cache_dir": cache_dir,
            "data.dialogue_acts": sweep.dialogue_acts, **sweep.fixed}
    _precompute_features(sweep, base)

    tracking_uri = sweep.tracking_uri or tracking.default_tracking_uri()
    storage = Path(sweep.storage_path or "ray_results").expanduser().resolve()
    experiment_dir = storage / sweep.name
    if sweep.restart and experiment_dir.exists():
        shutil.rmtree(experiment_dir)
    _check_own_state(sweep, experiment_dir)
    experiment_id = tracking.prepare_experiment(tracking_uri, sweep.name)
    parent_run_id = _open_parent_run(sweep, tracking_uri, experiment_id, experiment_dir)
    stale = tracking.mark_stale_runs_killed(tracking_uri, experiment_id, parent_run_id)
    if stale:
        print(f"marked {stale} run(s) left RUNNING by an earlier launch as KILLED")

    _init_ray(ray)
    _check_tracking_reachable(ray, tracking_uri)
    has_gpus = ray.cluster_resources().get("GPU", 0) > 0
    resources = {"cpu": sweep.cpus_per_trial, "gpu": sweep.gpus_per_trial if has_gpus else 0}
    setup = _Setup(tracking_uri, experiment_id, parent_run_id, sweep.cpus_per_trial, sweep.per_arch)
    failed = unfinished = 0
    try:
        for name, space, search in _tuner_specs(sweep, base, folds):
            errors, stopped = _fit(sweep, name, space, search, resources, setup, storage)
            failed, unfinished = failed + errors, unfinished + stopped
            if stopped:
                break  # interrupted (Ctrl-C): leave the rest for the relaunch
    except BaseException:
        tracking.end_run(tracking_uri, parent_run_id, "FAILED")
        raise
    tracking.end_run(tracking_uri, parent_run_id, "KILLED" if unfinished else "FAILED" if failed else "FINISHED")
    results = collect_runs(tracking_uri, experiment_id, parent_run_id)
    finished = int((results["status"] == "FINISHED").sum()) if len(results) else 0
    print(f"\nsweep {sweep.name}: {finished} finished trial runs, {failed} failed, "
          f"{(time.perf_counter() - started) / 60:.1f} min")
    _print_results(sweep, tracking_uri, parent_run_id, write_report=not unfinished)
    if unfinished:
        print(f"interrupted with {unfinished} trial(s) unfinished: run the same command again to resume")
    print(f"\n{tracking.look_at_runs(tracking_uri, experiment_id)}")
    return results


def _print_results(sweep: SweepConfig, tracking_uri: str, parent_run_id: str, *, write_report: bool) -> None:
    """Print the report's results table (the same numbers as the report and the README) and, when
    the sweep is complete, write the report to ``report_dir/<name>`` and into the parent run."""
    from sertext import aggregate, report, tracking

    try:
        tables = aggregate.summarise_sweep(tracking_uri, sweep.name)
    except ValueError as error:  # e.g. no finished run to aggregate: the sweep's own result stands
        print(f"no results table: {error}")
        return
    print(f"test results per model. {report.results_note(tables)}")
    print(report.results_table(tables).to_string(index=False))
    if len(tables.cross_summary):
        print("\ncross-corpus (each fold's model on the whole other corpus):")
        print(report.results_table(tables, cross=True).to_string(index=False))
    if write_report and sweep.report_dir:
        out = Path(sweep.report_dir).expanduser().resolve() / sweep.name
        path = report.write_report(tables, out)
        tracking.log_folder(tracking_uri, parent_run_id, out, "report")
        print(f"\nreport: {path.with_suffix('.html')} (also under 'report' in the sweep's parent run)")


# --- set-up ---
def demo_root(corpus: str = "iemocap", progress: bool = True) -> str:
    """The demo corpus (created once) in the layout of ``corpus``."""
    from sertext.data.demo import default_demo_dir, write_demo_corpus, write_demo_msp_podcast

    root = write_demo_corpus(default_demo_dir(), progress=progress)
    if corpus == "msp-podcast":
        root = write_demo_msp_podcast(default_demo_dir().with_name("demo-corpus-msp-podcast"), root)
    return str(root)


def _fold_names(sweep: SweepConfig, root: str) -> list[str]:
    from sertext.data import four_class, load_corpus, make_folds

    table = load_corpus(sweep.corpus, root, dialogue_acts=sweep.dialogue_acts)
    if sweep.task == "categorical":
        table = four_class(table)
    return [f.name for f in make_folds(table, sweep.protocol)]


def _precompute_features(sweep: SweepConfig, base: dict) -> None:
    """Extract every cached feature the sweep's trials read, once, before trials start (trials
    then only load them; two trials never compute the same feature at once)."""
    from sertext.data import load_corpus
    from sertext.features import FeatureCache, extract
    from sertext.trial import feature_extractors

    extractors = {}
    for arch, variant in sweep.arch_variants():
        config = TrialConfig.from_dict({**base, **variant, **sweep.per_arch.get(arch, {}), "model.arch": arch})
        for extractor in feature_extractors(config).values():
            extractors[(extractor.name, json.dumps(extractor.settings(), sort_keys=True, default=str))] = extractor
    if not extractors:
        return
    table = load_corpus(sweep.corpus, base["data.root"], dialogue_acts=sweep.dialogue_acts)
    cache = FeatureCache(base["data.cache_dir"])
    for extractor in extractors.values():
        extract(table, extractor, cache, progress=sweep.progress)


def _check_own_state(sweep: SweepConfig, experiment_dir: Path) -> None:
    """Refuse to resume a Tune state in ``experiment_dir`` that this sweep did not write: one
    without sertext's marker, or one saved under another definition of the same name.  Tune
    state is only ever restored from the sweep's own folder of its own storage path."""
    marker = experiment_dir / PARENT_RUN_FILE
    if not experiment_dir.exists() or not any(experiment_dir.iterdir()):
        return
    advice = "run with --restart to start over, or give the sweep another --name"
    if not marker.is_file():
        raise ValueError(f"{experiment_dir} holds files that no sertext sweep named {sweep.name!r} wrote; {advice}")
    saved = _jsonable(json.loads(marker.read_text()).get("definition", {}))
    changed = sorted(k for k, v in _jsonable(sweep.definition()).items() if saved.get(k) != v)
    if changed:
        raise ValueError(f"{experiment_dir} holds sweep {sweep.name!r} with other {', '.join(changed)} than this "
                         f"definition; {advice}")


def _jsonable(value):
    """``value`` as it reads back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(value, default=str))


def _open_parent_run(sweep: SweepConfig, tracking_uri: str, experiment_id: str, experiment_dir: Path) -> str:
    """The parent run of this sweep: reopened when resuming, else new (its id and the sweep's
    definition kept beside the Tune state, so a relaunch finds it and can tell it is its own)."""
    from sertext import tracking

    marker = experiment_dir / PARENT_RUN_FILE
    if marker.is_file():
        saved = json.loads(marker.read_text())
        if saved.get("tracking_uri") == tracking.redact(tracking_uri):
            return tracking.start_parent_run(tracking_uri, experiment_id, sweep.name, {}, run_id=saved["run_id"])
    params = {k: v for k, v in dataclasses.asdict(sweep).items() if k not in ("progress",)}
    params["tracking_uri"] = tracking.redact(tracking_uri)
    run_id = tracking.start_parent_run(tracking_uri, experiment_id, sweep.name, params)
    experiment_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"run_id": run_id, "tracking_uri": tracking.redact(tracking_uri),
                                  "definition": sweep.definition()}, default=str))
    return run_id


def _quiet_ray_tune() -> None:
    """Silence what only misleads here: Tune's own result files (MLflow has the results), the
    warning that they are missing, the per-checkpoint snapshot warning (a checkpoint per epoch
    is the point) and MLflow's "View run" line per run."""
    import logging

    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)


def _init_ray(ray) -> None:
    """Join the cluster this driver runs on (``ray submit``, ``RAY_ADDRESS``), else start a local
    Ray with a modest object store (sweeps pass little data through it)."""
    if ray.is_initialized():
        return
    try:
        ray.init(address=os.environ.get("RAY_ADDRESS", "auto"), log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError):
        ray.init(include_dashboard=False, object_store_memory=512 * 2**20, log_to_driver=False)


def _check_tracking_reachable(ray, tracking_uri: str) -> None:
    """Refuse a local SQLite store when trials may run on other machines."""
    machines = {node["NodeManagerAddress"] for node in ray.nodes() if node.get("Alive")}
    if tracking_uri.startswith("sqlite:") and len(machines) > 1:
        raise ValueError(f"the cluster spans {len(machines)} machines, which cannot all write to "
                         f"{tracking_uri}; start mlflow/server.sh on the head and pass "
                         "--tracking-uri http://HEAD:5000 (see cluster/README.md)")


# --- the Tune runs ------------------------------------------------------------------------------
def _search_probe(spec):
    kind, *values = spec
    if kind == "choice":
        return values[0][0]
    if kind in ("uniform", "loguniform"):
        return values[0]
    raise ValueError(f"search kind must be uniform, loguniform or choice, got {kind!r}")


def _tuner_specs(sweep: SweepConfig, base: dict, folds: tuple):
    """``(tune name, param space, searcher)`` per Tune run: one grid run (two when the variants
    apply to some architectures only), or with an Optuna search one run per (arch, fold, seed),
    since Optuna cannot take grid axes."""
    from ray import tune

    if not sweep.search:
        varied = [arch for arch in sweep.archs if sweep._varied(arch)]
        plain = [arch for arch in sweep.archs if arch not in varied]
        for archs, name, variants in ((varied, sweep.name, sweep.variants),
                                      (plain, f"{sweep.name}/unvaried" if varied else sweep.name, ())):
            if not archs:
                continue
            space = {**base, "model.arch": tune.grid_search(archs),
                     "data.fold": tune.grid_search(list(folds)), "train.seed": tune.grid_search(list(sweep.seeds)),
                     **{k: tune.grid_search([_hashable(v) for v in values]) for k, values in sweep.grid.items()}}
            if variants:
                space["variant"] = tune.grid_search([dict(v) for v in variants])
            yield name, space, None
        return
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.optuna import OptunaSearch

    distributions = {"uniform": tune.uniform, "loguniform": tune.loguniform, "choice": tune.choice}
    searched = {k: distributions[spec[0]](*spec[1:]) for k, spec in sweep.search.items()}
    for arch, fold, seed in itertools.product(sweep.archs, folds, sweep.seeds):
        if sweep.grid or sweep.variants:
            raise ValueError("combine an Optuna search with archs, folds and seeds only, not with grid or variants")
        space = {**base, "model.arch": arch, "data.fold": fold, "train.seed": seed, **searched}
        searcher = OptunaSearch(metric=sweep.metric, mode="max", seed=seed)
        limit = sweep.max_concurrent or 2
        yield f"{sweep.name}/{arch}-{fold}-seed{seed}", space, ConcurrencyLimiter(searcher, max_concurrent=limit)


def _hashable(value):
    return list(value) if isinstance(value, tuple) else value


def _fit(sweep: SweepConfig, name: str, space: dict, search, resources: dict, setup: _Setup,
         storage: Path) -> tuple[int, int]:
    """Run or resume one Tune run; return how many trials ended in error and how many did not
    end at all (the run was interrupted)."""
    from ray import tune

    trainable = tune.with_resources(tune.with_parameters(_trainable, setup=setup), resources)
    path = storage / name
    if tune.Tuner.can_restore(str(path)):
        print(f"resuming sweep state from {path}")
        tuner = tune.Tuner.restore(str(path), trainable=trainable, resume_unfinished=True,
                                   resume_errored=search is None, restart_errored=False)
    else:
        tuner = tune.Tuner(
            trainable, param_space=space,
            tune_config=tune.TuneConfig(
                search_alg=search, num_samples=sweep.num_samples if search else 1,
                metric=sweep.metric if search else None, mode="max" if search else None,
                max_concurrent_trials=sweep.max_concurrent or None, reuse_actors=True,
                trial_name_creator=_trial_name, trial_dirname_creator=_trial_name),
            run_config=tune.RunConfig(
                name=name, storage_path=str(storage), verbose=1 if sweep.progress else 0,
                failure_config=tune.FailureConfig(max_failures=sweep.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=2)),
        )
    results = tuner.fit()
    for error in results.errors:
        print(f"trial failed: {str(error).splitlines()[0][:300]}")
    return results.num_errors, len(results) - results.num_errors - results.num_terminated


def _trial_name(trial) -> str:
    config = trial.config
    return f"{config['model.arch']}-{config['data.fold']}-seed{config['train.seed']}-{trial.trial_id}"


def describe_variant(variant: dict) -> str:
    """A short readable label of a variant, e.g. ``targets=valence loss=mse`` (``-`` if none)."""
    if not variant:
        return "-"
    return " ".join(f"{k.split('.')[-1]}={','.join(map(str, v)) if isinstance(v, list) else v}"
                    for k, v in variant.items())


def trial_key(config: dict) -> str:
    """A stable identity of a trial within its sweep: a hash of its config."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:20]


def _trainable(config: dict, setup: _Setup) -> None:
    """One Tune trial: reopen (or create) its MLflow run, train with a checkpoint each epoch,
    log epochs and the final result; skip training when its run already finished."""
    import torch
    from ray import tune

    from sertext import tracking
    from sertext.trial import run_trial

    torch.set_num_threads(max(1, int(setup.cpus)))
    key = trial_key(config)
    variant = config.get("variant", {})
    settings = {k: v for k, v in config.items() if k != "variant"}
    trial_config = TrialConfig.from_dict({**settings, **variant, **setup.per_arch.get(config["model.arch"], {})})
    resolved = trial_config.resolved()
    workdir = Path(tempfile.mkdtemp(prefix="sertext-trial-"))
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            shutil.copytree(folder, workdir, dirs_exist_ok=True)
    saved_run = (workdir / RUN_ID_FILE).read_text().strip() if (workdir / RUN_ID_FILE).is_file() else None
    data, model = resolved.data, resolved.model
    run = tracking.TrialRun(
        setup.tracking_uri, setup.experiment_id, setup.parent_run_id, key,
        run_name=f"{model.arch}-{data.fold}-seed{resolved.train.seed}",
        tags={"arch": model.arch, "fold": data.fold, "seed": resolved.train.seed, "task": data.task,
              "corpus": data.corpus, "protocol": data.protocol, "variant": describe_variant(variant),
              "ray_trial_id": tune.get_context().get_trial_id()},
        params=resolved.to_dict(), run_id=saved_run)
    if run.finished:
        tune.report({**run.final_metrics, "sertext/skipped": 1})
        return
    (workdir / RUN_ID_FILE).write_text(run.run_id)
    import ray

    run.set_tags({"ray_node": ray.get_runtime_context().get_node_id(), "ray_pid": os.getpid()})

    def report(epoch: int, metrics: dict) -> None:
        run.log_metrics({k: v for k, v in metrics.items() if k != "epoch"}, step=epoch)
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(str(workdir)))

    try:
        result = run_trial(dataclasses.replace(trial_config, checkpoint_dir=str(workdir)), reporter=report)
        run.finish(result)
    except BaseException:
        run.fail()
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    tune.report({**result.metrics, "best_epoch": result.best_epoch})


# --- post-hoc fusion as a sweep -----------------------------------------------------------------
def run_fusion_sweep(source: str, *, tracking_uri: str = "", points: int = 101, audio: str = "cnn14",
                     text: str = "text", storage_path: str = "", progress: bool = True) -> pd.DataFrame:
    """The late-fusion weight search of a finished sweep, as a Ray Tune sweep of its own.

    One trial per audio weight w1 of a ``points``-point grid (w2 = 1 − w1): it fuses the source
    sweep's stored dev and test predictions of every fold and seed at w1, no retraining, and logs
    one MLflow child run (param ``fusion.w_audio``; metrics ``dev/<score>`` and ``test/<score>``,
    the means over folds and seeds of UAR or mean CCC) under a parent run in the experiment
    ``<source>-fusion``, so the weight curve can be compared in the MLflow UI.  The weights
    :mod:`sertext.fusion` chooses per fold on dev are in the source sweep's report.

    Returns:
        One row per weight: ``w_audio``, ``dev/<score>``, ``test/<score>``.
    """
    import pandas as pd
    import ray
    from ray import tune

    from sertext import aggregate, tracking
    from sertext.fusion import weight_grid

    _quiet_ray_tune()
    tracking_uri = tracking_uri or tracking.default_tracking_uri()
    experiment_id, parent = tracking.latest_sweep_run(tracking_uri, source)
    runs = aggregate.collect_runs(tracking_uri, experiment_id, parent)
    runs = runs[runs["arch"].isin([audio, text])]
    dev, test = (aggregate.collect_predictions(tracking_uri, runs, split) for split in ("dev", "test"))
    name = f"{source}-fusion"
    fusion_experiment = tracking.prepare_experiment(tracking_uri, name)
    fusion_parent = tracking.start_parent_run(tracking_uri, fusion_experiment, name,
                                              {"source": source, "points": points, "audio": audio, "text": text})
    _init_ray(ray)
    setup = {"tracking_uri": tracking_uri, "experiment_id": fusion_experiment, "parent_run_id": fusion_parent,
             "source": source, "audio": audio, "text": text}
    tuner = tune.Tuner(
        tune.with_parameters(_fusion_trainable, dev=dev, test=test, setup=setup),
        param_space={"w_audio": tune.grid_search([round(float(w), 6) for w in weight_grid(points)])},
        tune_config=tune.TuneConfig(reuse_actors=True),
        run_config=tune.RunConfig(name=name, storage_path=str(Path(storage_path or "ray_results").resolve()),
                                  verbose=1 if progress else 0))
    errors = tuner.fit().num_errors
    tracking.end_run(tracking_uri, fusion_parent, "FAILED" if errors else "FINISHED")
    rows = [{"w_audio": float(run.data.params["fusion.w_audio"]), **run.data.metrics}
            for run in tracking.child_runs(tracking_uri, fusion_experiment, fusion_parent, status="FINISHED")]
    curve = pd.DataFrame(rows).sort_values("w_audio").reset_index(drop=True)
    score = next(c for c in curve.columns if c.startswith("dev/"))
    best = curve.loc[curve[score].idxmax()]
    print(f"\n{name}: {len(curve)} weights, {errors} failed; best on dev: w_audio {best['w_audio']:.2f} "
          f"({score} {best[score]:.3f}, test {best[score.replace('dev/', 'test/')]:.3f})")
    print(tracking.look_at_runs(tracking_uri, fusion_experiment))
    return curve


def _fusion_trainable(config: dict, dev: pd.DataFrame, test: pd.DataFrame, setup: dict) -> None:
    """One fusion weight: mean dev and test score over every (variant, fold, seed) pair, one run."""
    import numpy as np
    from ray import tune

    from sertext import tracking
    from sertext.fusion import fuse, run_pairs, selection_score

    w_audio, audio, text = config["w_audio"], setup["audio"], setup["text"]
    scores = {"dev": [], "test": []}
    for _, dev_audio, dev_text, test_audio, test_text in run_pairs(dev, test, audio, text):
        scores["dev"].append(selection_score(fuse(dev_audio, dev_text, w_audio)))
        scores["test"].append(selection_score(fuse(test_audio, test_text, w_audio)))
    kind = "uar" if any(c.startswith("prob_") for c in test.columns) else "ccc"
    metrics = {f"{split}/{kind}": float(np.mean(values)) for split, values in scores.items()}
    run = tracking.TrialRun(setup["tracking_uri"], setup["experiment_id"], setup["parent_run_id"],
                            trial_key({"w_audio": w_audio}), f"w_audio={w_audio:.2f}",
                            {"arch": "LF-weighted", "source": setup["source"], "pairs": len(scores["test"])},
                            {"fusion.w_audio": w_audio, "fusion.audio": audio, "fusion.text": text})
    if not run.finished:
        run.log_metrics(metrics, step=0)
        tracking.end_run(setup["tracking_uri"], run.run_id)
    tune.report(metrics)


# --- sweep scripts ------------------------------------------------------------------------------
def demo_settings() -> dict:
    """Trial settings that make a demo sweep finish in minutes on two CPU cores.

    Small CNN14 widths, few epochs and short crops; per-speaker log-Mel normalisation and BatchNorm
    recalibration, which a few hundred utterances need for stable evaluation (see
    :mod:`sertext.trial`).  None of this is the papers' setting.
    """
    return {"model.width": 0.0625, "train.epochs": 3, "train.batch_size": 32, "train.crop_s": 0.75,
            "data.normalise": "speaker", "train.bn_recalibration": True, "model.max_tokens": 32}


def demo_per_arch() -> dict:
    """The text model fine-tunes for one demo epoch at lr 1e-4 (its paper setting is four epochs at
    2e-5): on the demo corpus that reaches the test UAR of two epochs at 2e-5 in half the time."""
    return {"text": {"train.epochs": 1, "train.lr": 1e-4}}


def sweep_parser(description: str) -> argparse.ArgumentParser:
    """The options every sweep script shares."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", action="store_true",
                        help="self-contained run: the demo corpus (created once), small models, local Ray")
    parser.add_argument("--corpus-root", default="", help="the corpus folder (e.g. IEMOCAP_full_release)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="random seeds (default: the paper's 0 1 2 3 4; with --demo 0 1)")
    parser.add_argument("--folds", nargs="+", default=[], help="only these folds (default: all)")
    parser.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs per trial (default 1)")
    parser.add_argument("--gpus-per-trial", type=float, default=0.5,
                        help="GPU share per trial, used only when the cluster has GPUs (default 0.5)")
    parser.add_argument("--max-concurrent", type=int, default=0, help="at most this many trials at once")
    parser.add_argument("--max-failures", type=int, default=2, help="retries of a failing trial (default 2)")
    parser.add_argument("--tracking-uri", default="",
                        help="MLflow store or server (default: $MLFLOW_TRACKING_URI, else SQLite in mlflow/)")
    parser.add_argument("--storage-path", default="", help="Ray Tune results (default ./ray_results)")
    parser.add_argument("--report-dir", default="reports",
                        help="the sweep's report goes to REPORT_DIR/NAME (default reports; '' for none)")
    parser.add_argument("--cache-dir", default="", help="feature cache (default ~/.cache/sertext/features)")
    parser.add_argument("--dialogue-acts", default=None, metavar="DIR",
                        help="EMOTyDA CSV folder: dialogue acts for the report (IEMOCAP; --demo uses its own)")
    parser.add_argument("--name", default="", help="sweep / MLflow experiment name")
    parser.add_argument("--restart", action="store_true", help="start over instead of resuming this sweep")
    parser.add_argument("--quiet", action="store_true", help="no progress output from Ray Tune")
    return parser


def run_script(main) -> None:
    """Run a sweep script's ``main``; a bad definition or input (an unknown architecture, a
    misspelled key, a corrupt wav, an unwritable cache) ends with one clear line and exit code 2."""
    try:
        main()
    except USER_ERRORS as error:
        print(f"{Path(sys.argv[0]).name}: error: {error}", file=sys.stderr)
        sys.exit(2)


def common_options(args: argparse.Namespace) -> dict:
    """SweepConfig fields from the shared options (reads ``MLFLOW_TRACKING_URI`` once, here)."""
    return {"root": args.corpus_root, "folds": tuple(args.folds), "cpus_per_trial": args.cpus_per_trial,
            "gpus_per_trial": args.gpus_per_trial, "max_concurrent": args.max_concurrent,
            "max_failures": args.max_failures,
            "tracking_uri": args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI", ""),
            "storage_path": args.storage_path, "report_dir": args.report_dir, "cache_dir": args.cache_dir,
            "dialogue_acts": args.dialogue_acts,
            "restart": args.restart,
            "demo": args.demo, "progress": not args.quiet}


def seeds(args: argparse.Namespace, paper: tuple = (0, 1, 2, 3, 4), demo: tuple = (0, 1)) -> tuple:
    """The seeds asked for, else the paper's (or, with --demo, two)."""
    if args.seeds:
        return tuple(args.seeds)
    return demo if args.demo else paper
