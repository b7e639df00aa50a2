"""Before any trial: the corpus (the demo corpus created once), its folds, the models the trials
read (each must load), their transcripts (recognised once where a trial asks for speech
recognition; none may be missing for a model that reads text), and every feature they read,
extracted once into the shared cache so that trials only load them and never race to compute the
same feature."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from .definition import SweepConfig, Trial


@dataclass(frozen=True)
class Corpus:
    """The corpus a sweep runs on: its folder, dialogue-act folder and the folds it trains, and
    the folder of the corpus it also tests on (``""``: none)."""

    root: str
    dialogue_acts: str | None
    folds: tuple
    cross_root: str = ""


def resolve_corpus(sweep: SweepConfig, progress: bool = True) -> Corpus:
    """The corpus folder (the demo corpus, created once, for ``demo``), the dialogue acts (the
    demo corpus brings its own), the folds (the sweep's, else every fold of the protocol) and the
    cross corpus' folder (with ``demo`` and none given, the demo corpus in that corpus' layout)."""
    root = demo_root(sweep.corpus, progress) if sweep.demo else _absolute(sweep.root)
    acts = sweep.dialogue_acts
    if sweep.demo and sweep.corpus == "iemocap" and acts is None:
        acts = str(Path(root) / "EMOTyDA")
    cross = ""
    if sweep.cross_corpus:
        cross = _absolute(sweep.cross_root) if sweep.cross_root else demo_root(sweep.cross_corpus, progress)
    return Corpus(root, acts, sweep.folds or tuple(fold_names(sweep, root, acts)), cross)


def _absolute(path: str) -> str:
    """An absolute folder: Ray runs trials in folders of their own."""
    return str(Path(path).expanduser().resolve())


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


MODEL_KINDS = {"text_model": "text model", "speech_model": "speech model"}


def check_models(trials: list[Trial]) -> None:
    """Stop before anything is extracted or trained when a model the trials read cannot be loaded:
    one line per model, naming it and how to give a local folder (:mod:`sertext.features.pretrained`)."""
    from sertext.config import TrialConfig, pretrained_models
    from sertext.features.pretrained import check_pretrained, check_word_vectors

    wanted = {}
    for trial in trials:
        config = TrialConfig.from_dict(trial.config)
        wanted.update({(key, name): None for key, name in pretrained_models(config, extracted=True).items()})
        data = config.data
        wanted.update({(key, name): None for key, name in (("asr_model", data.asr_model),
                                                            ("cross_asr_model", data.cross_asr_model)) if name})
    errors = []
    for key, name in wanted:
        try:
            if key == "word_vectors":
                check_word_vectors(name, "--word-vectors")
            elif key in ("asr_model", "cross_asr_model"):
                from sertext.features.asr import check_asr_model

                check_asr_model(name)
            else:
                check_pretrained(name, MODEL_KINDS[key], f"--{key.replace('_', '-')}")
        except ValueError as error:
            errors.append(str(error))
    if errors:
        raise ValueError("; ".join(errors))


@dataclass
class TrialTable:
    """The utterances trials read from one corpus under one data setting (:func:`sertext.trial.task_table`).

    Attributes:
        role: ``"main"``, or ``"cross"`` for the cross-corpus evaluation.
        config: the resolved config of one trial that reads it.
        table: the utterances.
        text_readers: the architectures among those trials whose models read its transcripts.
    """

    role: str
    config: object
    table: object
    text_readers: set = field(default_factory=set)

    @property
    def asr_model(self) -> str:
        data = self.config.data
        return data.cross_asr_model if self.role == "cross" else data.asr_model

    @property
    def corpus(self) -> str:
        data = self.config.data
        return data.cross_corpus if self.role == "cross" else data.corpus


def check_inputs(trials: list[Trial], cache_dir: str) -> list[TrialTable]:
    """What can stop a sweep before anything is spent, each as one line: a model that does not load
    (:func:`check_models`), a transcript missing for a model that reads text
    (:func:`check_transcripts`).  Returns the trials' tables, their text as the corpus has it."""
    check_models(trials)
    tables = trial_tables(trials, cache_dir, recognise=False)
    check_transcripts(tables)
    return tables


def prepare_inputs(trials: list[Trial], tables: list[TrialTable], cache_dir: str, progress: bool = True, *,
                   on_cluster: bool = False, gpu_share: float = 0.0) -> tuple[dict, dict, dict]:
    """Everything before the first trial, once :func:`check_inputs` passed and gave ``tables``: speech
    is recognised where the trials ask for it, then every feature is extracted into the cache.
    Returns how each corpus' text was made (:func:`transcript_summary`), what each corpus'
    utterances hold (:func:`corpus_descriptions`) and the size of each fold (:func:`fold_sizes`)."""
    transcribe(tables, cache_dir, progress, on_cluster=on_cluster, gpu_share=gpu_share)
    tables = trial_tables(trials, cache_dir)
    precompute_features(trials, cache_dir, progress, on_cluster=on_cluster, gpu_share=gpu_share, tables=tables)
    return transcript_summary(tables), corpus_descriptions(tables), fold_sizes(tables)


def fold_sizes(tables: list[TrialTable]) -> dict:
    """``{fold: {"train": n, "dev": n, "test": n}}`` of the folds of the first main table (the
    utterances of the sweep's first data setting), cut as its trials cut them: what the fold-aware
    tests correct for."""
    from sertext.trial import trial_folds

    main = next(one for one in tables if one.role == "main")
    return {fold.name: {"train": len(fold.train), "dev": len(fold.dev), "test": len(fold.test)}
            for fold in trial_folds(main.table, main.config)}


def corpus_descriptions(tables: list[TrialTable]) -> dict:
    """Per corpus, :func:`sertext.data.describe.describe_corpus` of every utterance the trials read
    from it (the tables of all data settings together, each utterance once)."""
    import pandas as pd

    from sertext.data.describe import describe_corpus

    frames = {}
    for one in tables:
        frames.setdefault(one.corpus, []).append(one.table)
    return {corpus: describe_corpus(pd.concat(parts).drop_duplicates("utt_id")) for corpus, parts in frames.items()}


def trial_tables(trials: list[Trial], cache_dir: str, *, recognise: bool = True) -> list[TrialTable]:
    """Each distinct table of utterances ``trials`` read (per data setting, and per cross corpus),
    once; ``recognise``: with recognised text where the trials ask for speech recognition (read
    from the cache, computed when missing)."""
    from sertext.config import reads_text
    from sertext.trial import task_table

    tables = {}
    for trial in trials:
        config = _config(trial, cache_dir)
        for role in ("main", "cross") if config.data.cross_corpus else ("main",):
            key = (role, _data_key(config))
            if key not in tables:
                table, _ = task_table(config, cross=role == "cross", recognise=recognise)
                tables[key] = TrialTable(role, config, table)
            if reads_text(config):
                tables[key].text_readers.add(config.model.arch)
    return list(tables.values())


def transcribe(tables: list[TrialTable], cache_dir: str, progress: bool = True, *, on_cluster: bool = False,
               gpu_share: float = 0.0) -> None:
    """Recognise the speech of every utterance of ``tables`` whose trials ask for it
    (``data.asr_model``, ``data.cross_asr_model``) into the cache, as Ray tasks when ``on_cluster``."""
    from sertext.features import FeatureCache
    from sertext.features.asr import TranscriptExtractor

    cache = FeatureCache(cache_dir)
    for one in tables:
        if one.asr_model:
            _extract(one.table, TranscriptExtractor(one.asr_model), cache, progress, on_cluster, gpu_share)


def transcript_summary(tables: list[TrialTable]) -> dict:
    """Per corpus whose text the trials read: where it comes from (``source``: the ASR model, or
    ``"corpus"``: its own transcripts), how many utterances, how many without words (``empty``), and
    for recognised text its word error rate against the corpus' own transcripts
    (:func:`sertext.features.asr.word_error_rate`: ``wer``, ``utterances_scored``, …)."""
    import pandas as pd

    from sertext.features.asr import word_error_rate

    frames = {}
    for one in (one for one in tables if one.text_readers):
        frames.setdefault((one.corpus, one.asr_model), []).append(one.table)
    summary = {}
    for (corpus, asr), parts in frames.items():
        table = pd.concat(parts).drop_duplicates("utt_id")
        entry = {"source": asr or "corpus", "utterances": len(table),
                 "empty": int((table["text"].astype(str).str.strip() == "").sum())}
        if asr:
            scored = word_error_rate(table["reference_text"].astype(str).tolist(), table["text"].astype(str).tolist())
            entry.update({"wer": scored["wer"], "wer_utterances": scored["utterances"],
                          "wer_reference_words": scored["reference_words"]})
        summary[corpus if corpus not in summary else f"{corpus} ({asr or 'corpus'})"] = entry
    return summary


def check_transcripts(tables: list[TrialTable]) -> None:
    """Stop before any trial when a model that reads transcripts would see an utterance without one
    (an MSP-Podcast copy without ``Transcripts/``, say): one line with how many lack text and the
    two fixes.  Recognised text may be empty (the recogniser heard no words): that is data, counted
    in :func:`transcript_summary`, not a missing transcript."""
    for one in tables:
        if one.asr_model or not one.text_readers:
            continue
        empty = one.table[one.table["text"].astype(str).str.strip() == ""]
        if len(empty):
            option = "--cross-asr-model" if one.role == "cross" else "--asr-model"
            raise ValueError(
                f"{len(empty)} of {len(one.table)} {one.corpus} utterances that {', '.join(sorted(one.text_readers))} "
                f"read have no transcript (e.g. {empty['path'].iloc[0]}): transcribe them by speech recognition with "
                f"{option} NAME (a Hugging Face speech-recognition model, or 'pocketsphinx' offline), as the "
                "multistage paper did for MSP-Podcast, or use a release with its transcripts (MSP-Podcast's "
                "Transcripts/ folder)")


def precompute_features(trials: list[Trial], cache_dir: str, progress: bool = True, *, on_cluster: bool = False,
                        gpu_share: float = 0.0, tables: list[TrialTable] | None = None) -> int:
    """Extract every cached feature ``trials`` read, for the utterances they read (each extractor
    setting once per table; features trained per fold with their fold's training utterances, and
    text features from the recognised text where the trials ask for it); return how many extractor
    settings there were.

    ``on_cluster``: as Ray tasks across the running Ray (:mod:`sertext.features.distributed`, a
    ``gpu_share`` each for transformer and wav2vec features), else in this process.  ``tables``:
    :func:`trial_tables` of ``trials``, when the caller has them."""
    from sertext.features import FeatureCache

    cache = FeatureCache(cache_dir)
    jobs = feature_jobs(trials, cache_dir, progress, tables=tables)
    for table, extractor in jobs:
        _extract(table, extractor, cache, progress, on_cluster, gpu_share)
    return len({_extractor_key(extractor) for _, extractor in jobs})


def feature_jobs(trials: list[Trial], cache_dir: str, progress: bool = True, *,
                 tables: list[TrialTable] | None = None, recognise: bool = True) -> list[tuple]:
    """``(table, extractor)`` for every feature ``trials`` read: one per extractor setting and
    table of utterances (those trained per fold get their fold's training utterances, with their
    recognised text where the trials ask for it and ``recognise``)."""
    from sertext.config import trained_per_fold
    from sertext.features.extractors import feature_extractors
    from sertext.trial import fold_training

    by_data = {}
    for one in tables if tables is not None else trial_tables(trials, cache_dir, recognise=recognise):
        by_data.setdefault(_data_key(one.config), []).append(one)
    training, jobs = {None: None}, {}
    for trial in trials:
        config = _config(trial, cache_dir)
        fold = _data_key(config, fold=True) if trained_per_fold(config) else None
        if fold not in training:  # the same fold, task and labels: the same training utterances
            training[fold] = fold_training(config, recognise=recognise)
        for extractor in feature_extractors(config, training[fold], progress=progress).values():
            for one in by_data[_data_key(config)]:
                jobs[(_extractor_key(extractor), one.role, _data_key(one.config))] = (one.table, extractor)
    return list(jobs.values())


def _extract(table, extractor, cache, progress: bool, on_cluster: bool, gpu_share: float) -> None:
    from sertext.features import extract
    from sertext.features.distributed import extract_on_cluster

    if on_cluster:
        extract_on_cluster(table, extractor, cache, gpu_share=gpu_share, progress=progress)
    else:
        extract(table, extractor, cache, progress=progress)


def _config(trial: Trial, cache_dir: str):
    from sertext.config import TrialConfig

    return TrialConfig.from_dict({**trial.config, "data.cache_dir": cache_dir}).resolved()


def _data_key(config, fold: bool = False) -> str:
    """The trial's data setting (without its fold, unless ``fold``), as a key."""
    return json.dumps({k: v for k, v in dataclasses.asdict(config.data).items() if fold or k != "fold"},
                      sort_keys=True, default=str)


def _extractor_key(extractor) -> tuple:
    return extractor.name, json.dumps(extractor.settings(), sort_keys=True, default=str)
