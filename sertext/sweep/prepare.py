"""Before any trial: the corpus (the demo corpus created once), its folds, and every feature the
trials read, extracted once into the shared cache so that trials only load them and never race
to compute the same feature."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from .definition import SweepConfig, Trial


@dataclass(frozen=True)
class Corpus:
    """The corpus a sweep runs on: its folder, dialogue-act folder and the folds it trains."""

    root: str
    dialogue_acts: str | None
    folds: tuple


def resolve_corpus(sweep: SweepConfig, progress: bool = True) -> Corpus:
    """The corpus folder (the demo corpus, created once, for ``demo``), the dialogue acts (the
    demo corpus brings its own) and the folds (the sweep's, else every fold of the protocol)."""
    root = demo_root(sweep.corpus, progress) if sweep.demo else str(Path(sweep.root).expanduser().resolve())
    acts = sweep.dialogue_acts
    if sweep.demo and sweep.corpus == "iemocap" and acts is None:
        acts = str(Path(root) / "EMOTyDA")
    return Corpus(root, acts, sweep.folds or tuple(fold_names(sweep, root, acts)))


def demo_root(corpus: str = "iemocap", progress: bool = True) -> str:
    """The demo corpus (created once) in the layout of ``corpus``."""
    from sertext.data.demo import default_demo_dir, write_demo_corpus, write_demo_msp_podcast

    root = write_demo_corpus(default_demo_dir(), progress=progress)
    if corpus == "msp-podcast":
        root = write_demo_msp_podcast(default_demo_dir().with_name("demo-corpus-msp-podcast"), root)
    return str(root)


def fold_names(sweep: SweepConfig, root: str, dialogue_acts: str | None) -> list[str]:
    from sertext.data import four_class, load_corpus, make_folds

    table = load_corpus(sweep.corpus, root, dialogue_acts=dialogue_acts)
    if sweep.task == "categorical":
        table = four_class(table)
    return [f.name for f in make_folds(table, sweep.protocol)]


def precompute_features(trials: list[Trial], corpus: Corpus, cache_dir: str, progress: bool = True, *,
                        on_cluster: bool = False, gpu_share: float = 0.0) -> int:
    """Extract every cached feature ``trials`` read (each extractor setting once; features trained
    per fold, with their fold's training utterances); return how many extractor settings there were.

    ``on_cluster``: as Ray tasks across the running Ray (:mod:`sertext.features.distributed`, a
    ``gpu_share`` each for transformer and wav2vec features), else in this process."""
    from sertext.data import load_corpus
    from sertext.features import FeatureCache, extract
    from sertext.features.distributed import extract_on_cluster

    extractors = distinct_extractors(trials, progress)
    if extractors:
        table = load_corpus(trials[0].config["data.corpus"], corpus.root, dialogue_acts=corpus.dialogue_acts)
        cache = FeatureCache(cache_dir)
        for extractor in extractors:
            if on_cluster:
                extract_on_cluster(table, extractor, cache, gpu_share=gpu_share, progress=progress)
            else:
                extract(table, extractor, cache, progress=progress)
    return len(extractors)


def distinct_extractors(trials: list[Trial], progress: bool = True) -> list:
    """The extractors of every feature ``trials`` read, one per extractor setting (those trained per
    fold get their fold's training utterances)."""
    from sertext.config import TrialConfig, trained_per_fold
    from sertext.features.extractors import feature_extractors
    from sertext.trial import fold_training

    training, extractors = {None: None}, {}
    for trial in trials:
        config = TrialConfig.from_dict(trial.config)
        data = json.dumps(dataclasses.asdict(config.data), sort_keys=True, default=str) \
            if trained_per_fold(config) else None
        if data not in training:  # the same fold, task and labels: the same training utterances
            training[data] = fold_training(config)
        for extractor in feature_extractors(config, training[data], progress=progress).values():
            extractors[(extractor.name, json.dumps(extractor.settings(), sort_keys=True, default=str))] = extractor
    return list(extractors.values())
