"""A sweep's definition — what it trains and compares — as a pure value, and its one expansion to trials.

Imports neither torch, Ray nor MLflow: a definition is checked whole when it is made (every key,
architecture and combination, before any feature is extracted or any run opened), and
:func:`expand` turns it into the exact list of trial configs that feature precomputation, Ray Tune
and the tests all use.  How a sweep runs (resources, stores, progress) is :mod:`.settings`.

A trial's settings, from lowest to highest precedence:

1. the sweep's corpus, root, protocol, task and dialogue acts;
2. ``fixed``: values for every trial;
3. ``per_arch[arch]``: values for one architecture;
4. a point of ``grid`` (the product of its axes);
5. a ``variant``: a whole setting, one more grid axis, for the architectures in ``variant_archs``;
6. a value the ``search`` samples (Optuna);
7. the trial's identity: ``model.arch``, ``data.fold`` and ``train.seed``.

A key comes from at most one of ``grid``, ``variants`` and ``search``; the identity and corpus
keys come only from the sweep's own fields.  Where a candidate is several trials
(``scope="protocol"``), one setting is trained on every fold and seed and scored by its mean dev
metric, so the sweep chooses one setting for the whole protocol rather than one per fold.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field

from sertext.config import ARCHITECTURES, DIMENSIONS, TASKS, TrialConfig, trained_per_fold

SEARCH_KINDS = ("uniform", "loguniform", "choice")
SCOPES = ("cell", "protocol")
SCHEDULERS = ("", "asha")
# Trial keys a sweep sets from its own fields (or, for the cache, from how it runs).
RESERVED = {"model.arch": "archs", "data.fold": "folds (--folds)", "train.seed": "seeds (--seeds)",
            "data.corpus": "corpus", "data.protocol": "protocol", "data.task": "task",
            "data.root": "root (--corpus-root)", "data.dialogue_acts": "dialogue_acts",
            "data.cross_corpus": "cross_corpus (--cross-corpus-root)",
            "data.cross_root": "cross_root (--cross-corpus-root)",
            "data.cache_dir": "the run settings' cache_dir (--cache-dir)",
            "checkpoint_dir": "the sweep itself (a checkpoint every epoch)"}
DEFAULT_METRIC = {"categorical": "dev/uar", "dimensional": "dev/ccc"}


@dataclass(frozen=True)
class SweepConfig:
    """A sweep: which trials, and what its report compares.  Every field defines the sweep: a Tune
    state saved under another definition of the same name is not resumed (:meth:`fingerprint`).

    Attributes:
        name: sweep and MLflow experiment name (letters, digits, ``.``, ``_``, ``-``).
        corpus, root, demo: the corpus format and folder, or the demo corpus (created once).
        cross_corpus, cross_root: another corpus every trial's model is also tested on (its test
            set, :func:`sertext.data.cross_corpus_set`), and its folder (with ``demo``, by default
            the demo corpus in that corpus' layout); ``""``: none.
        dialogue_acts: EMOTyDA folder for the report's strata (the demo corpus brings its own).
        protocol, task: the folds and the task (``categorical`` or ``dimensional``).
        archs, seeds, folds: the trial grid (``folds`` empty: every fold of the protocol).
        grid: more grid axes, ``{"train.loss_weights": [[1, 1, 1], [0.7, 0.2, 0.1]]}``.
        fixed: values for every trial, ``{"model.width": 0.25}``.
        per_arch: values for one architecture, ``{"text": {"train.epochs": 2}}``.
        variants: whole settings as one more grid axis, for combinations a plain grid cannot
            express: ``({"data.targets": ["valence"], "train.loss": "mse"}, …)``.
        variant_archs: the architectures the variants apply to (empty: all); the others train once.
        audio_baseline, text_baseline: the report's baselines (markers ``*`` and ``†``) and the pair
            it fuses (LF, LF-weighted).
        fixed_fusion: ``(w1, w2)`` of a published score fusion w1·p_audio + w2·p_text shown as its
            own row, e.g. Makiuchi et al.'s (0.6, 1); empty: none.
        search: Optuna space, ``{"train.lr": ("loguniform", 1e-3, 1e-1)}`` (``uniform``,
            ``loguniform``, ``choice`` with a list); ``num_samples`` candidates per search.
        scope: ``"cell"``: a candidate is one trial, so a search or grid chooses per (arch, fold,
            seed); ``"protocol"``: a candidate is one setting trained on every fold and seed and
            scored by its mean dev metric, one choice per architecture (and variant).
        metric: the dev metric that selects (default: ``dev/uar`` or ``dev/ccc`` by task).
        scheduler: ``"asha"`` stops poor search candidates early (after ``grace_period`` epochs,
            or trials for ``scope="protocol"``; ``reduction_factor`` as in ASHA); ``""``: none.
    """

    name: str
    corpus: str = "iemocap"
    root: str = ""
    demo: bool = False
    cross_corpus: str = ""
    cross_root: str = ""
    dialogue_acts: str | None = None
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
    fixed_fusion: tuple = ()
    search: dict = field(default_factory=dict)
    num_samples: int = 1
    scope: str = "cell"
    metric: str = ""
    scheduler: str = ""
    grace_period: int = 1
    reduction_factor: int = 2

    def __post_init__(self) -> None:
        for name in ("archs", "seeds", "folds", "variants", "variant_archs", "fixed_fusion"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "metric", self.metric or DEFAULT_METRIC.get(self.task, ""))
        check(self)

    def fingerprint(self) -> str:
        """A hash of every field: a relaunch resumes a Tune state only under the same one."""
        return hashlib.sha256(json.dumps(self.definition(), sort_keys=True).encode()).hexdigest()[:16]

    def definition(self) -> dict:
        """Every field, as JSON reads it back (tuples as lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))

    @classmethod
    def from_definition(cls, values: dict) -> SweepConfig:
        """The sweep back from :meth:`definition` (as a sweep's parent run keeps it,
        :mod:`sertext.record`); a field it lacks takes its default, so older records still read.

        Raises:
            ValueError: a field this version does not know.
        """
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"sweep definition has unknown fields {unknown}")
        values = dict(values)
        if "search" in values:
            values["search"] = {k: tuple(spec) for k, spec in values["search"].items()}
        return cls(**values)

    def arch_variants(self) -> list[tuple[str, dict]]:
        """Every (architecture, variant) the sweep trains (``{}``: no variant)."""
        return [(arch, variant) for arch in self.archs
                for variant in (self.variants if self.varied(arch) else ()) or ({},)]

    def varied(self, arch: str) -> bool:
        return bool(self.variants) and (not self.variant_archs or arch in self.variant_archs)


@dataclass(frozen=True)
class Trial:
    """One trial: its complete flat config, and the labels its MLflow run carries."""

    config: dict
    variant: dict
    setting: dict  # the grid point and searched values (what a search or grid chooses between)

    @property
    def arch(self) -> str:
        return self.config["model.arch"]

    @property
    def fold(self) -> str:
        return self.config["data.fold"]

    @property
    def seed(self) -> int:
        return self.config["train.seed"]

    @property
    def key(self) -> str:
        """A stable identity within the sweep: the hash of its config (its MLflow run's key)."""
        return trial_key(self.config)

    def with_values(self, values: dict) -> Trial:
        """The trial with searched ``values`` applied."""
        return Trial({**self.config, **values}, self.variant, {**self.setting, **values})


@dataclass(frozen=True)
class Candidate:
    """What one Tune trial trains: one trial (``scope="cell"``) or a setting on every fold and seed."""

    trials: tuple[Trial, ...]

    @property
    def label(self) -> str:
        first = self.trials[0]
        cells = f"{len(self.trials)} trials" if len(self.trials) > 1 else f"{first.fold}-seed{first.seed}"
        return "-".join(part for part in (first.arch, describe(first.variant), describe(first.setting), cells)
                        if part != "-")


@dataclass(frozen=True)
class TuneRun:
    """One Ray Tune run: a fixed grid of candidates, or (``search``) one template candidate whose
    trials each sampled setting is applied to."""

    name: str  # its folder under the storage path
    candidates: tuple[Candidate, ...]
    search: dict = field(default_factory=dict)
    num_samples: int = 1
    seed: int = 0  # the searcher's


def expand(sweep: SweepConfig, *, root: str, folds: tuple, dialogue_acts: str | None = None,
           cross_root: str = "") -> list[TuneRun]:
    """The sweep's Tune runs and every trial in them, in a fixed order, by the precedence above.

    ``root``, ``folds``, ``dialogue_acts`` and ``cross_root`` are the resolved corpus folder, the
    protocol's folds (or the sweep's subset), the dialogue-act folder and the cross corpus' folder.
    """
    base = {"data.corpus": sweep.corpus, "data.protocol": sweep.protocol, "data.task": sweep.task,
            "data.root": root, "data.dialogue_acts": dialogue_acts,
            **({"data.cross_corpus": sweep.cross_corpus, "data.cross_root": cross_root} if sweep.cross_corpus
               else {})}
    points = [dict(zip(sweep.grid, values, strict=True)) for values in itertools.product(*sweep.grid.values())]

    def trial(arch, variant, point, fold, seed) -> Trial:
        config = {**base, **sweep.fixed, **sweep.per_arch.get(arch, {}), **point, **variant,
                  "model.arch": arch, "data.fold": fold, "train.seed": seed}
        return Trial(_plain(config), _plain(variant), _plain(point))

    def cells(arch, variant, point) -> tuple[Trial, ...]:
        return tuple(trial(arch, variant, point, fold, seed) for fold in folds for seed in sweep.seeds)

    if len({describe(point) for point in points}) < len(points):
        raise ValueError(f"grid {sweep.grid}: two points read alike; give each axis distinct values")
    settings = [(arch, variant, point) for arch, variant in sweep.arch_variants() for point in points]
    if not sweep.search:
        if sweep.scope == "protocol":
            candidates = [Candidate(cells(*setting)) for setting in settings]
        else:
            candidates = [Candidate((one,)) for setting in settings for one in cells(*setting)]
        return [TuneRun(sweep.name, tuple(candidates))]
    if sweep.scope == "protocol":
        return [TuneRun(f"{sweep.name}/{arch}", (Candidate(cells(arch, {}, {})),), sweep.search, sweep.num_samples,
                        seed=sweep.seeds[0]) for arch in sweep.archs]
    return [TuneRun(f"{sweep.name}/{arch}-{fold}-seed{seed}", (Candidate((trial(arch, {}, {}, fold, seed),)),),
                    sweep.search, sweep.num_samples, seed=seed)
            for arch in sweep.archs for fold in folds for seed in sweep.seeds]


def feature_trials(runs: list[TuneRun], sweep: SweepConfig) -> list[Trial]:
    """One trial per distinct feature-relevant setting: every grid point and variant, and every
    combination of the search's ``choice`` values (a continuous search value is read at its lower
    bound); per fold where a feature is trained on the fold (seeds never change features)."""
    choices = {k: spec[1] for k, spec in sweep.search.items() if spec[0] == "choice"}
    probes = {k: _probe(spec) for k, spec in sweep.search.items() if spec[0] != "choice"}
    combos = [dict(zip(choices, values, strict=True)) for values in itertools.product(*choices.values())]
    seen, trials = set(), []
    for run in runs:
        for candidate in run.candidates:
            for combo in combos:
                one = candidate.trials[0].with_values({**probes, **combo})
                ignored = ("train.seed",) if trained_per_fold(TrialConfig.from_dict(one.config)) \
                    else ("data.fold", "train.seed")
                identity = json.dumps({k: v for k, v in one.config.items() if k not in ignored},
                                      sort_keys=True, default=str)
                if identity not in seen:
                    seen.add(identity)
                    trials.append(one)
    return trials


def check(sweep: SweepConfig) -> None:
    """Raise ``ValueError`` for anything wrong in the definition, naming it."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", sweep.name):
        raise ValueError(f"sweep name {sweep.name!r}: use letters, digits, '.', '_' and '-' (it names a folder under "
                         "the storage path and the MLflow experiment)")
    if not sweep.demo and not sweep.root:
        raise ValueError("give the corpus root (--corpus-root) or use the demo corpus (--demo)")
    if sweep.cross_corpus and not (sweep.demo or sweep.cross_root):
        raise ValueError(f"give the folder of {sweep.cross_corpus} to test on across corpora (--cross-corpus-root)")
    if sweep.task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {sweep.task!r}")
    unknown = sorted(set(sweep.archs) - set(ARCHITECTURES))
    if unknown or not sweep.archs:
        raise ValueError(f"unknown architecture(s) {unknown}; expected {sorted(ARCHITECTURES)}")
    if not sweep.seeds:
        raise ValueError("a sweep needs at least one seed")
    for name, archs in (("variant_archs", sweep.variant_archs), ("per_arch", tuple(sweep.per_arch))):
        if set(archs) - set(sweep.archs):
            raise ValueError(f"{name} names {sorted(set(archs) - set(sweep.archs))}, which are not in archs")
    _check_metric(sweep)
    _check_sources(sweep)
    if sweep.fixed_fusion and (len(sweep.fixed_fusion) != 2 or min(sweep.fixed_fusion) < 0
                               or sum(sweep.fixed_fusion) <= 0):
        raise ValueError(f"fixed_fusion {sweep.fixed_fusion}: give two weights (w_audio, w_text), not negative, "
                         "not both zero")
    _check_search(sweep)
    probes = {key: _probe(spec) for key, spec in sweep.search.items()}
    for run in expand(sweep, root=sweep.root or "demo", folds=sweep.folds or ("any",),
                      cross_root=sweep.cross_root or "demo"):
        for candidate in run.candidates:
            for one in candidate.trials:
                config = TrialConfig.from_dict(one.with_values(probes).config)
                if (sweep.search or sweep.scope == "protocol") and config.resolved().data.dev_fraction == 0:
                    raise ValueError(f"{one.arch} trains without a dev set (its paper's protocol), but a search "
                                     "chooses on dev: give it one with --set train.selection=dev")


def _check_metric(sweep: SweepConfig) -> None:
    """The selection metric must be a dev metric the task's trials report."""
    split, _, metric = sweep.metric.partition("/")
    if sweep.task == "categorical":
        allowed = ["uar", "wa", "f1_macro"]
    else:
        allowed = ["ccc", *(f"{kind}_{target}" for kind in ("ccc", "pcc", "mse") for target in DIMENSIONS)]
    if split != "dev" or metric not in allowed:
        raise ValueError(f"metric {sweep.metric!r} does not fit the {sweep.task} task: model selection uses a dev "
                         f"metric, one of {', '.join('dev/' + m for m in allowed)}")
    if metric.startswith("mse"):
        raise ValueError(f"metric {sweep.metric!r}: selection maximises, so choose a score (ccc, pcc), not an error")


def _check_sources(sweep: SweepConfig) -> None:
    """Reserved keys come from the sweep's own fields; a key comes from one of grid, variants, search."""
    sources = {"fixed": set(sweep.fixed), "grid": set(sweep.grid), "search": set(sweep.search),
               "variants": set().union(*(set(v) for v in sweep.variants)),
               **{f"per_arch[{arch!r}]": set(values) for arch, values in sweep.per_arch.items()}}
    for source, keys in sources.items():
        for key in sorted(keys & set(RESERVED)):
            raise ValueError(f"{source} sets {key!r}: the sweep sets it from {RESERVED[key]}")
    for first, second in itertools.combinations(("grid", "variants", "search"), 2):
        both = sorted(sources[first] & sources[second])
        if both:
            raise ValueError(f"{', '.join(both)} comes from both {first} and {second}; give each key one source")
    for axis, values in sweep.grid.items():
        if not isinstance(values, (list, tuple)) or not values:
            raise ValueError(f"grid axis {axis!r} needs a non-empty list of values, got {values!r}")
    if len({describe(variant) for variant in sweep.variants}) < len(sweep.variants):
        raise ValueError("two variants are the same setting; give each variant once")


def _check_search(sweep: SweepConfig) -> None:
    if sweep.scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {sweep.scope!r}")
    if sweep.scheduler not in SCHEDULERS:
        raise ValueError(f"scheduler must be 'asha' or '', got {sweep.scheduler!r}")
    for key, spec in sweep.search.items():
        _probe(spec, key)
    if sweep.search and (sweep.grid or sweep.variants):
        raise ValueError("combine an Optuna search with archs, folds and seeds only, not with grid or variants "
                         "(Optuna cannot take grid axes)")
    if sweep.scope == "protocol" and not (sweep.search or sweep.grid or sweep.variants):
        raise ValueError('scope="protocol" chooses between settings: give a search, a grid or variants')
    if sweep.scheduler and not sweep.search:
        raise ValueError("an ASHA scheduler stops poor search candidates early: it needs a search (never stop "
                         "seeds or folds of a grid early)")
    if sweep.num_samples < 1 or sweep.grace_period < 1 or sweep.reduction_factor < 2:
        raise ValueError("num_samples and grace_period must be at least 1, reduction_factor at least 2")


def _probe(spec, key: str = "") -> object:
    """A value of a search space entry, to validate and to precompute features with."""
    kind, *values = spec if isinstance(spec, (list, tuple)) and spec else (None,)
    if kind == "choice" and len(values) == 1 and isinstance(values[0], (list, tuple)) and values[0]:
        return values[0][0]
    if kind in ("uniform", "loguniform") and len(values) == 2:
        return values[0]
    raise ValueError(f"search {key!r}: write (kind, …) with kind one of {SEARCH_KINDS}: ('uniform', low, high), "
                     f"('loguniform', low, high) or ('choice', [values]); got {spec!r}")


def _plain(values: dict) -> dict:
    """Tuples as lists, as the values read back from Tune's state and MLflow."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def describe(setting: dict) -> str:
    """A readable label of a setting, e.g. ``targets=valence loss=mse`` (``-`` if none); exact
    (floats in their shortest form that reads back the same), since it tells settings apart in
    MLflow and in Tune."""
    if not setting:
        return "-"
    return " ".join(f"{k.split('.')[-1]}={','.join(map(str, v)) if isinstance(v, list) else v}"
                    for k, v in setting.items())


def trial_key(config: dict) -> str:
    """A stable identity of a trial within its sweep: a hash of its config."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:20]
