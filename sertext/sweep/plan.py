"""``--dry-run``: what a sweep would cost, before it is spent.

:func:`print_plan` resolves the corpus and expands the definition as a run would, then prints

* the trials, per architecture;
* the pretrained models they read, whose they are (the paper's, or the command line's), and
  whether each loads here (a model that does not would stop the sweep: its trials are not timed);
* where each corpus' text comes from, and any missing transcript that would stop the sweep;
* each feature the trials read (and each transcript to recognise): how many utterances still need
  extracting, and, from a few of them extracted here (and not stored), the time and cache space
  that will take: one utterance's time after a first that loads the extractor's model, and that
  load, which every worker pays once;
* per architecture, the training time: one training step timed on this machine's device (on a
  batch of the fold's training utterances, :func:`sertext.trial.training_step_seconds`) times the
  steps per epoch, the epochs and the trials; and the total with as many trials at once as this
  machine holds.

It starts no Ray and opens no MLflow run.  Estimates cover training steps only (evaluation, BatchNorm
recalibration and per-fold semantic spaces come on top), and speak for this machine: on a cluster,
divide the trial time by the number of trials its workers hold at once.
"""

from __future__ import annotations

import os
import time
from collections import Counter

from .definition import SweepConfig, expand, feature_trials
from .prepare import MODEL_KINDS, check_models, check_transcripts, feature_jobs, resolve_corpus, trial_tables
from .settings import RunSettings


def print_plan(sweep: SweepConfig, settings: RunSettings) -> None:
    """Print the sweep's trials, models, text, features and estimated cost (module docstring); run nothing."""
    from sertext.config import default_cache_dir

    corpus = resolve_corpus(sweep, settings.progress)
    runs = expand(sweep, root=corpus.root, folds=corpus.folds, dialogue_acts=corpus.dialogue_acts,
                  cross_root=corpus.cross_root)
    cache_dir = settings.cache_dir or default_cache_dir()
    counts, examples = Counter(), {}
    for run in runs:
        for candidate in run.candidates:
            for trial in candidate.trials:
                counts[trial.arch] += run.num_samples if run.search else 1
                examples.setdefault(trial.arch, trial)
    folds = f"{len(corpus.folds)} fold{'s' if len(corpus.folds) != 1 else ''}"
    print(f"dry run of sweep {sweep.name}: {sum(counts.values())} trials ({folds}) "
          f"on {corpus.root}; nothing is trained")
    trials = feature_trials(runs, sweep)
    print("models:")
    unloadable = {}
    for line, trouble in _model_lines(trials, sweep.demo):
        print(f"  {line}")
        unloadable.update(trouble)
    usable = [t for t in trials if not set(_models(t).values()) & set(unloadable)]
    tables = trial_tables(trials, cache_dir, recognise=False)
    print("text:")
    for line in _text_lines(tables):
        print(f"  {line}")
    print(f"features (cache {cache_dir}):")
    for line in _feature_lines(usable, tables, cache_dir):
        print(f"  {line}")
    print("training, from one timed step per architecture:")
    hours = 0.0
    for arch, trials_of_arch in counts.items():
        blocked = set(_models(examples[arch]).values()) & set(unloadable)
        if blocked:
            print(f"  {arch}: {trials_of_arch} trials, not timed: {', '.join(sorted(blocked))} cannot be loaded here")
            continue
        line, trial_hours = _training_line(arch, trials_of_arch, examples[arch].config, cache_dir)
        print(f"  {line}")
        hours += trial_hours
    slots, where = _slots(settings)
    print(f"estimated training: {hours:.2f} h of trial time, {hours / slots:.2f} h with {slots} trials at once "
          f"({where}); evaluation and feature extraction come on top")
    if unloadable:
        print(f"the sweep would stop before its first trial: {'; '.join(unloadable.values())}")


def _models(trial) -> dict:
    """``{model key: name}`` of the pretrained models and recognisers a trial's features need."""
    from sertext.config import TrialConfig, pretrained_models

    config = TrialConfig.from_dict(trial.config)
    data = config.data
    asr = {k: v for k, v in (("asr_model", data.asr_model), ("cross_asr_model", data.cross_asr_model)) if v}
    return {**pretrained_models(config, extracted=True), **asr}


def _model_lines(trials: list, demo: bool) -> list[tuple[str, dict]]:
    """One line per pretrained model the trials read: its name, which architectures read it, whose
    choice it is (their paper's, or the command line's) and whether it loads here; with
    ``{name: the error}`` for one that does not."""
    from sertext.models.registry import ARCHITECTURES

    readers = {}
    for trial in trials:
        for key, name in _models(trial).items():
            readers.setdefault((key, name), set()).add(trial.arch)
    lines = []
    for (key, name), archs in readers.items():
        papers = {ARCHITECTURES[a].paper for a in archs if ARCHITECTURES[a].paper_models.get(key) == name}
        whose = (f"the paper's: {', '.join(sorted(papers))}" if papers
                 else "the offline demo model" if demo else "as given")
        what = MODEL_KINDS.get(key, "speech recogniser" if "asr" in key else key.replace("_", " "))
        head = f"{what} {name} ({', '.join(sorted(archs))}; {whose})"
        try:
            check_models([trial for trial in trials if _models(trial).get(key) == name][:1])
        except ValueError as error:
            lines.append((f"{head}: CANNOT BE LOADED HERE", {name: str(error)}))
            continue
        lines.append((f"{head}: loads", {}))
    return lines or [("none (no architecture of this sweep reads a pretrained model)", {})]


def _text_lines(tables: list) -> list[str]:
    """Where the text of each corpus the trials read comes from, and a missing transcript that
    would stop the sweep (:func:`.prepare.check_transcripts`)."""
    lines = []
    for one in tables:
        if not one.text_readers:
            continue
        source = f"recognised by {one.asr_model}" if one.asr_model else "its own transcripts"
        lines.append(f"{one.corpus}: {source}, {len(one.table)} utterances, read by "
                     f"{', '.join(sorted(one.text_readers))}")
    try:
        check_transcripts(tables)
    except ValueError as error:
        lines.append(f"the sweep would stop: {error}")
    return lines or ["no model of this sweep reads text"]


def _feature_lines(trials: list, tables: list, cache_dir: str) -> list[str]:
    """One line per transcript to recognise, and per extractor setting and table (per kind of
    semantic frames, over its folds' spaces): utterances to extract, and their estimated time and
    size.  Features of recognised text are timed on the corpus' own text, which recognition replaces."""
    from sertext.features import FeatureCache
    from sertext.features.asr import TranscriptExtractor
    from sertext.features.semantic import SemanticFramesExtractor

    cache = FeatureCache(cache_dir)
    jobs = [(one.table, TranscriptExtractor(one.asr_model)) for one in tables if one.asr_model]
    jobs += feature_jobs(trials, cache_dir, progress=False, tables=tables, recognise=False)
    semantic = [(table, e) for table, e in jobs if isinstance(e, SemanticFramesExtractor)]
    several = len({one.corpus for one in tables}) > 1  # then each line names its corpus
    return ([_feature_line(e, table, cache, f"{e.name} ({table['corpus'].iloc[0]})" if several else e.name)
             for table, e in jobs if not isinstance(e, SemanticFramesExtractor)]
            + [_semantic_line(kind, [(t, e) for t, e in semantic if e.semantic == kind], cache)
               for kind in dict.fromkeys(e.semantic for _, e in semantic)])


def _feature_line(extractor, table, cache, label: str = "") -> str:
    """What extracting one feature still costs: its missing utterances, the time they take (one
    utterance timed after a first one that loads the extractor's model, and that load once per
    worker) and their size."""
    from sertext.features.distributed import missing_rows

    missing = missing_rows(table, extractor, cache)
    head = f"{label or extractor.name}: {len(missing)} of {len(table)} utterances to extract"
    if missing.empty:
        return head
    rows = list(missing.head(3).itertuples(index=False))
    first, arrays = _timed(extractor, rows[:1])
    if len(rows) > 1:
        rest, arrays = _timed(extractor, rows[1:])
        seconds, load = rest / len(arrays), max(first - rest / len(arrays), 0.0)
    else:
        seconds, load = first, 0.0
    size = sum(a.nbytes for a in arrays) / len(arrays)
    loading = f" (+ {_duration(load)} to load its model on each worker)" if load >= 1 else ""
    return f"{head}, about {_duration(seconds * len(missing))}{loading} and {_bytes(size * len(missing))}"


def _timed(extractor, rows: list) -> tuple[float, list]:
    """Seconds ``extractor`` takes to compute ``rows``, and what it computed (not stored)."""
    started = time.perf_counter()
    arrays = extractor.compute(rows, [extractor.content(row) for row in rows])
    return time.perf_counter() - started, arrays


def _semantic_line(kind: str, jobs: list, cache) -> str:
    """Semantic frames of one kind in every fold's space: not timed, since each fold's space is
    trained first (by the sweep, once)."""
    from sertext.features.distributed import missing_rows

    missing = sum(len(missing_rows(table, extractor, cache)) for table, extractor in jobs)
    spaces = f"{len(jobs)} fold space{'s' if len(jobs) != 1 else ''}"
    return (f"semantic-frames ({kind}, {spaces}): {missing} of {sum(len(t) for t, _ in jobs)} utterances to "
            "extract (after training each fold's semantic space; not timed)")


def _training_line(arch: str, trials: int, config: dict, cache_dir: str) -> tuple[str, float]:
    """The architecture's estimate: trials × epochs × steps per epoch (or its budget in steps) ×
    the timed step."""
    from sertext.config import TrialConfig
    from sertext.trial import training_budget, training_step_seconds

    resolved = TrialConfig.from_dict({**config, "data.cache_dir": cache_dir}).resolved()
    step, n_train, device = training_step_seconds(resolved)
    budget = training_budget(resolved, n_train)
    hours = trials * budget.steps * step / 3600
    if budget.iterations is None:
        epochs = f"{budget.epochs} epoch{'s' if budget.epochs != 1 else ''}"
        shape = f"{epochs} × {budget.steps_per_epoch} steps"
    else:
        shape = f"{budget.iterations} steps ({budget.epochs} epochs of {budget.steps_per_epoch})"
    return f"{arch}: {trials} trials × {shape} × {step:.3f} s on {device} = {hours:.2f} h", hours


def _slots(settings: RunSettings) -> tuple[int, str]:
    """How many trials this machine runs at once, and why."""
    import torch

    if torch.cuda.is_available() and settings.gpus_per_trial > 0:
        slots = int(torch.cuda.device_count() / settings.gpus_per_trial)
        where = f"{torch.cuda.device_count()} GPU(s), {settings.gpus_per_trial} per trial"
    else:
        slots = int((os.cpu_count() or 1) / settings.cpus_per_trial)
        where = f"{os.cpu_count()} CPUs, {settings.cpus_per_trial:g} per trial"
    if settings.max_concurrent:
        slots = min(slots, settings.max_concurrent)
        where += f", at most {settings.max_concurrent}"
    return max(1, slots), where


def _duration(seconds: float) -> str:
    """A duration in seconds, minutes or hours, whichever reads best.

    Examples:
        >>> _duration(4.2), _duration(125), _duration(3 * 3600)
        ('4 s', '2.1 min', '3.0 h')
    """
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def _bytes(n: float) -> str:
    """A size in the largest unit that keeps it above 1 (binary units).

    Examples:
        >>> _bytes(512), _bytes(3 * 2**20), _bytes(110 * 2**30)
        ('512 B', '3.0 MiB', '110.0 GiB')
    """
    units, power = ("B", "KiB", "MiB", "GiB"), 0
    while n >= 1024 and power < len(units) - 1:
        n, power = n / 1024, power + 1
    return f"{n:.0f} B" if power == 0 else f"{n:.1f} {units[power]}"
