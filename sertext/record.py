"""What a sweep's parent run and each trial's run carry in MLflow: written and read only here.

A sweep's parent run holds its definition whole (``sweep.json``: the :class:`SweepConfig`, the
corpus folder, the folds it resolved to and how each corpus' text was made), so that a report
knows every trial the sweep promised, including those that never produced a run.  A trial's run
is tagged with its place in the grid (``arch``, ``fold``, ``seed``, ``variant``, …) and with the
pretrained models it read (``text_model``, ``speech_model``, ``word_vectors``, ``asr_model``), so
that every row of a report names the models behind it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from sertext import tracking
from sertext.config import TrialConfig, pretrained_models, reads_text
from sertext.sweep.definition import SweepConfig, Trial, describe, expand

RECORD_FILE = "sweep.json"
GRID_TAGS = ("arch", "fold", "seed", "variant", "setting")
MODEL_TAGS = ("text_model", "speech_model", "word_vectors", "asr_model")


@dataclass(frozen=True)
class SweepRecord:
    """A sweep launch as its parent run keeps it.

    Attributes:
        sweep: the definition.
        root, folds, dialogue_acts, cross_root: the corpus folder, the folds, the dialogue-act
            folder and the cross corpus' folder it resolved to when it ran (a report need not see
            the corpus).
        transcripts: per corpus whose text the trials read, where it came from
            (:func:`sertext.sweep.prepare.transcript_summary`).
        corpora: per corpus, what the utterances the trials read hold (classes, ratings:
            :func:`sertext.data.describe.describe_corpus`).
        fold_sizes: per fold, its training, dev and test utterances (``{fold: {"train": n, …}}``).
    """

    sweep: SweepConfig
    root: str
    folds: tuple
    dialogue_acts: str | None = None
    cross_root: str = ""
    transcripts: dict = field(default_factory=dict)
    corpora: dict = field(default_factory=dict)
    fold_sizes: dict = field(default_factory=dict)

    def test_over_train(self) -> float | None:
        """A fold's test size over its training size, averaged over the folds (what the fold-aware
        tests correct for); ``None`` when the record holds no fold sizes."""
        sizes = list(self.fold_sizes.values())
        if not sizes or not sum(s["train"] for s in sizes):
            return None
        return sum(s["test"] for s in sizes) / sum(s["train"] for s in sizes)

    def expected_trials(self) -> list[tuple]:
        """Every trial the definition promises, as ``(arch, variant label, fold, seed)`` (a search
        promises a run per cell, whatever it samples)."""
        runs = expand(self.sweep, root=self.root, folds=self.folds, dialogue_acts=self.dialogue_acts,
                      cross_root=self.cross_root)
        return list(dict.fromkeys((one.arch, describe(one.variant), one.fold, one.seed)
                                  for run in runs for candidate in run.candidates for one in candidate.trials))

    def to_json(self) -> str:
        return json.dumps({"definition": self.sweep.definition(), "root": self.root, "folds": list(self.folds),
                           "dialogue_acts": self.dialogue_acts, "cross_root": self.cross_root,
                           "transcripts": self.transcripts, "corpora": self.corpora,
                           "fold_sizes": self.fold_sizes}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> SweepRecord:
        values = json.loads(text)
        return cls(SweepConfig.from_definition(values["definition"]), values["root"], tuple(values["folds"]),
                   values.get("dialogue_acts"), values.get("cross_root", ""), values.get("transcripts", {}),
                   values.get("corpora", {}), values.get("fold_sizes", {}))


def write_sweep_record(tracking_uri: str, run_id: str, record: SweepRecord) -> None:
    """Store the record in the sweep's parent run (``sweep.json``), and each corpus' recognised-text
    figures as metrics the MLflow UI shows (``text/<corpus>/wer``, ``…/empty``, ``…/utterances``)."""
    mlflow = tracking.client(tracking_uri)
    tracking.retry(lambda: mlflow.log_text(run_id, record.to_json(), RECORD_FILE))
    for corpus, entry in record.transcripts.items():
        values = {k: v for k, v in entry.items() if k in ("wer", "empty", "utterances") and _finite(v)}
        if values:
            tracking.log_values(tracking_uri, run_id, {f"text/{corpus}/{k}": v for k, v in values.items()})
        tracking.set_tags(tracking_uri, run_id, {f"text/{corpus}/source": entry["source"]})


def read_sweep_record(tracking_uri: str, run_id: str) -> SweepRecord | None:
    """The record of a sweep's parent run, or ``None`` for a launch made before sweeps kept one."""
    text = tracking.read_text_artifact(tracking_uri, run_id, RECORD_FILE)
    return SweepRecord.from_json(text) if text is not None else None


def trial_tags(trial: Trial, config: TrialConfig) -> dict:
    """The tags of a trial's run: its place in the grid, its task and corpus, and the pretrained
    models it reads (the recogniser only where its model reads the recognised text)."""
    data = config.data
    tags = {"arch": trial.arch, "fold": trial.fold, "seed": trial.seed, "task": data.task, "corpus": data.corpus,
            "protocol": data.protocol, "variant": describe(trial.variant), "setting": describe(trial.setting),
            **pretrained_models(config)}
    if data.asr_model and reads_text(config):
        tags["asr_model"] = data.asr_model
    return tags


def trial_row(run) -> dict:
    """A trial run as aggregation reads it: ``run_id``, its grid tags, ``status``, ``stopped``
    (stopped early by the scheduler), ``models`` (what it read, :func:`models_label`) and the
    final dev/test/cross metrics, probes (``probe/…``) and semantic alignment checks (``semantic/…``)."""
    tags = run.data.tags
    return {"run_id": run.info.run_id, "arch": tags.get("arch"), "variant": tags.get("variant", "-"),
            "fold": tags.get("fold"), "seed": int(tags["seed"]) if "seed" in tags else None,
            "setting": tags.get("setting", "-"), "status": run.info.status,
            "stopped": tags.get(tracking.STOPPED_TAG) == "true", "models": models_label(tags),
            **{k: v for k, v in run.data.metrics.items()
               if k.startswith(("dev/", "test/", "cross/", "probe/", "semantic/"))}}


def models_label(tags: dict) -> str:
    """The pretrained models a run's tags name, shortly: ``bert-base-uncased``, ``glove.840B.300d.txt``,
    ``bert-base-uncased, ASR pocketsphinx``; ``""`` for a model that reads none.

    Examples:
        >>> models_label({"text_model": "bert-base-uncased", "asr_model": "pocketsphinx"})
        'bert-base-uncased, ASR pocketsphinx'
        >>> models_label({"word_vectors": "/data/vectors/glove.840B.300d.txt"})
        'glove.840B.300d.txt'
    """
    names = [_short(tags[key]) for key in MODEL_TAGS[:3] if tags.get(key)]
    if tags.get("asr_model"):
        names.append(f"ASR {_short(tags['asr_model'])}")
    return ", ".join(names)


def _short(name: str) -> str:
    """A local path by its last part; a Hugging Face id (``facebook/wav2vec2-large-lv60``) as it is."""
    return Path(name).name if name.startswith(("/", "~", ".")) else name


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
